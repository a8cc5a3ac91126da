#!/usr/bin/env Rscript
# Paired comparisons of per-instance CSVs in base R only (no CRAN packages; Cliff's delta is written out).
#
# The same statistics as codepeft/comparisons.py, from the flat manifest that
#   python statistical_tests/run_comparisons.py --config FILE.yaml --export_manifest manifest.csv
# writes (columns family,metric,a,b,column; one comparison per row), into the same results CSV:
#   Rscript statistical_tests/R-scripts/run_comparisons.R --manifest manifest.csv --output results.csv \
#       [--test wilcoxon|mcnemar] [--correction holm|BH|none] [--scope family|all] [--alpha 0.05]
#
# Rows are paired by the id in each file's first column (inner join; ids with a missing value, i.e. an
# empty, NA, NaN, None or null cell, on either side are dropped and counted). Wilcoxon: wilcox.test(x, y,
# paired=TRUE, exact=FALSE, correct=FALSE). McNemar: mcnemar.test on the 2x2 table, correct=TRUE.
# Corrections: p.adjust within each family or across all rows. Bad input: "error: ..." and exit status 2.

usage <- paste("usage: Rscript run_comparisons.R --manifest FILE --output FILE",
               "[--test wilcoxon|mcnemar] [--correction holm|BH|none] [--scope family|all] [--alpha A]")

die <- function(...) {
  cat("error: ", ..., "\n", sep = "", file = stderr())
  quit(save = "no", status = 2)
}

parse_args <- function(args) {
  opts <- list(test = "wilcoxon", correction = "holm", scope = "family", alpha = "0.05")
  if (length(args) %% 2 != 0) die("flags come in pairs (--flag value); ", usage)
  for (i in seq(1, length(args), by = 2)) {
    key <- sub("^--", "", args[i])
    if (!key %in% c("manifest", "output", "test", "correction", "scope", "alpha")) die("unknown flag ", args[i], "; ", usage)
    opts[[key]] <- args[i + 1]
  }
  if (is.null(opts$manifest) || is.null(opts$output)) die("--manifest and --output are required; ", usage)
  if (!opts$test %in% c("wilcoxon", "mcnemar")) die("--test: ", opts$test, " is not valid; use wilcoxon or mcnemar")
  if (!opts$correction %in% c("holm", "BH", "none")) die("--correction: ", opts$correction, " is not valid; use holm, BH or none")
  if (!opts$scope %in% c("family", "all")) die("--scope: ", opts$scope, " is not valid; use family or all")
  opts$alpha <- suppressWarnings(as.numeric(opts$alpha))
  if (is.na(opts$alpha) || opts$alpha <= 0 || opts$alpha >= 1) die("--alpha must be a number between 0 and 1")
  opts
}

read_table <- function(path) {
  if (!file.exists(path)) die("per-instance CSV not found: ", path)
  table <- tryCatch(
    read.csv(path, colClasses = "character", check.names = FALSE, na.strings = character(0),
             strip.white = TRUE, fileEncoding = "UTF-8-BOM"),
    error = function(e) die(path, ": malformed CSV (", conditionMessage(e), ")"))
  if (ncol(table) < 2) die(path, ": expected a header with the id column and at least one value column")
  names(table) <- trimws(names(table))
  ids <- table[[1]]
  if (any(ids == "")) die(path, ": empty id in the first column (", names(table)[1], ")")
  repeated <- ids[duplicated(ids)]
  if (length(repeated) > 0) die(path, ": id ", repeated[1], " appears more than once; each id must appear once per file")
  table
}

number_pattern <- "^[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?$"
missing_cells <- c("", "na", "nan", "none", "null")

# Numbers (NA where missing); for mcnemar also true/false/pass/fail, and only 0 or 1.
parse_column <- function(table, path, column, test) {
  if (!column %in% names(table)[-1]) {
    die(path, ": no column '", column, "'; columns: ", paste(names(table)[-1], collapse = ", "))
  }
  cells <- trimws(table[[column]])
  lower <- tolower(cells)
  values <- rep(NA_real_, length(cells))
  if (test == "mcnemar") {
    values[lower %in% c("true", "pass", "passed")] <- 1
    values[lower %in% c("false", "fail", "failed")] <- 0
  }
  numeric <- is.na(values) & !(lower %in% missing_cells)
  bad <- numeric & !grepl(number_pattern, cells)
  if (any(bad)) {
    i <- which(bad)[1]
    die(path, ": id ", table[[1]][i], ", column ", column, ": '", cells[i], "' is not a number")
  }
  values[numeric] <- as.numeric(cells[numeric])
  if (test == "mcnemar") {
    bad <- !is.na(values) & !(values %in% c(0, 1))
    if (any(bad)) {
      i <- which(bad)[1]
      die(path, ": id ", table[[1]][i], ", column ", column, ": '", cells[i],
          "' is not a pass/fail outcome; mcnemar needs 0/1 or True/False per id")
    }
  }
  setNames(values, table[[1]])
}

# effsize's cliff.delta estimate: mean of sign(x_i - y_j) over all pairs, counted on sorted y.
cliffs_delta <- function(x, y) {
  ys <- sort(y)
  greater <- sum(findInterval(x, ys, left.open = TRUE))
  less <- sum(length(ys) - findInterval(x, ys))
  (greater - less) / (length(x) * length(y))
}

magnitude <- function(d) {
  a <- abs(d)
  if (a < 0.147) "negligible" else if (a < 0.33) "small" else if (a < 0.474) "medium" else "large"
}

number <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

main <- function() {
  opts <- parse_args(commandArgs(trailingOnly = TRUE))
  if (!file.exists(opts$manifest)) die("manifest not found: ", opts$manifest)
  manifest <- read.csv(opts$manifest, colClasses = "character", check.names = FALSE, na.strings = character(0))
  needed <- c("family", "metric", "a", "b", "column")
  if (!all(needed %in% names(manifest))) die(opts$manifest, ": needs the columns ", paste(needed, collapse = ","))
  if (nrow(manifest) == 0) die(opts$manifest, ": no comparisons")
  tables <- list()
  get_table <- function(path) {
    if (is.null(tables[[path]])) tables[[path]] <<- read_table(path)
    tables[[path]]
  }
  rows <- vector("list", nrow(manifest))
  for (k in seq_len(nrow(manifest))) {
    m <- manifest[k, ]
    va <- parse_column(get_table(m$a), m$a, m$column, opts$test)
    vb <- parse_column(get_table(m$b), m$b, m$column, opts$test)
    if (length(intersect(names(va), names(vb))) == 0) die("no ids in common between ", m$a, " and ", m$b)
    ids <- names(va)[!is.na(va) & names(va) %in% names(vb)[!is.na(vb)]]
    x <- unname(va[ids])
    y <- unname(vb[ids])
    row <- list(family = m$family, metric = m$metric, n = length(ids))
    if (length(ids) == 0) {  # ids in common, but no value on both sides: reported with p = NA
      row[c("p_value", "cliffs_delta", "odds_ratio")] <- NA_real_
      row[c("magnitude", "both_pass", "a_only", "b_only", "both_fail")] <- NA_character_
    } else if (opts$test == "wilcoxon") {
      row$p_value <- suppressWarnings(wilcox.test(x, y, paired = TRUE, exact = FALSE, correct = FALSE)$p.value)
      row$cliffs_delta <- cliffs_delta(x, y)
      row$magnitude <- magnitude(row$cliffs_delta)
    } else {
      row$both_pass <- sum(x == 1 & y == 1)
      row$a_only <- sum(x == 1 & y == 0)
      row$b_only <- sum(x == 0 & y == 1)
      row$both_fail <- sum(x == 0 & y == 0)
      table2 <- matrix(c(row$both_pass, row$b_only, row$a_only, row$both_fail), nrow = 2)
      row$p_value <- mcnemar.test(table2, correct = TRUE)$p.value
      row$odds_ratio <- (row$a_only + 0.5) / (row$b_only + 0.5)
    }
    if (is.nan(row$p_value)) row$p_value <- NA_real_
    row$dropped_a <- length(va) - length(ids)
    row$dropped_b <- length(vb) - length(ids)
    row$few_pairs <- if (length(ids) < 5) "yes" else "no"
    rows[[k]] <- row
  }
  p <- vapply(rows, function(r) r$p_value, numeric(1))
  groups <- if (opts$scope == "all") rep("all", length(rows)) else manifest$family
  adjusted <- p
  for (g in unique(groups)) adjusted[groups == g] <- p.adjust(p[groups == g], method = opts$correction)

  columns <- if (opts$test == "wilcoxon") {
    c("family", "metric", "n", "p_value", "p_adjusted", "cliffs_delta", "magnitude", "significant",
      "dropped_a", "dropped_b", "few_pairs")
  } else {
    c("family", "metric", "n", "both_pass", "a_only", "b_only", "both_fail", "p_value", "p_adjusted",
      "odds_ratio", "significant", "dropped_a", "dropped_b", "few_pairs")
  }
  out <- data.frame(lapply(setNames(columns, columns), function(col) {
    vapply(seq_along(rows), function(k) {
      r <- rows[[k]]
      switch(col,
             p_value = number(r$p_value),
             p_adjusted = number(adjusted[k]),
             cliffs_delta = number(r$cliffs_delta),
             odds_ratio = number(r$odds_ratio),
             significant = if (is.na(adjusted[k])) "NA" else if (adjusted[k] < opts$alpha) "yes" else "no",
             as.character(r[[col]]))
    }, character(1))
  }), check.names = FALSE, stringsAsFactors = FALSE)
  # Written next to the target and renamed, so a failure never leaves half a file behind.
  dir.create(dirname(opts$output), recursive = TRUE, showWarnings = FALSE)
  tmp <- tempfile(pattern = ".results.", tmpdir = dirname(opts$output), fileext = ".tmp")
  write.csv(out, tmp, row.names = FALSE, quote = TRUE)
  if (!file.rename(tmp, opts$output)) die("could not write ", opts$output)
  cat("wrote ", nrow(out), " comparisons to ", opts$output, "\n", sep = "")
}

main()
