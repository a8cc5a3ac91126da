#!/usr/bin/env Rscript
# Paired comparisons of per-instance CSVs in base R only (no CRAN packages; Cliff's delta is written out).
#
# The same statistics as codepeft/stats/, from the flat manifest that
#   python statistical_tests/run_comparisons.py --config FILE.yaml --export_manifest manifest.csv
# writes (columns family,metric,a,b,column; one comparison per row), into the same results CSV:
#   Rscript statistical_tests/R-scripts/run_comparisons.R --manifest manifest.csv --output results.csv \
#       [--test wilcoxon|mcnemar] [--correction holm|BH|none] [--scope family|all] [--alpha 0.05] \
#       [--protocol default|study]
#
# Rows are paired by the id in each file's first column (inner join; ids with a missing value, i.e. an
# empty, NA, NaN, None or null cell, on either side are dropped and counted). Wilcoxon: wilcox.test(x, y,
# paired=TRUE, exact=FALSE, correct=FALSE), with Cliff's delta and its 95% interval (Cliff 1996, as
# effsize 0.8's cliff.delta computes it with its defaults). --protocol study: the p-value is NA whenever
# both samples are constant, and the interval's column means are effsize's (see cliffs_delta_interval);
# default: base R's p-value and the column means computed directly. McNemar: mcnemar.test on the 2x2
# table, correct=TRUE.
# Corrections: p.adjust within each family or across all rows. Bad input: "error: ..." and exit status 2.

usage <- paste("usage: Rscript run_comparisons.R --manifest FILE --output FILE",
               "[--test wilcoxon|mcnemar] [--correction holm|BH|none] [--scope family|all] [--alpha A]",
               "[--protocol default|study]")

die <- function(...) {
  cat("error: ", ..., "\n", sep = "", file = stderr())
  quit(save = "no", status = 2)
}

parse_args <- function(args) {
  opts <- list(test = "wilcoxon", correction = "holm", scope = "family", alpha = "0.05", protocol = "default")
  if (length(args) %% 2 != 0) die("flags come in pairs (--flag value); ", usage)
  for (i in seq(1, length(args), by = 2)) {
    key <- sub("^--", "", args[i])
    if (!key %in% c("manifest", "output", "test", "correction", "scope", "alpha", "protocol")) die("unknown flag ", args[i], "; ", usage)
    opts[[key]] <- args[i + 1]
  }
  if (is.null(opts$manifest) || is.null(opts$output)) die("--manifest and --output are required; ", usage)
  if (!opts$test %in% c("wilcoxon", "mcnemar")) die("--test: ", opts$test, " is not valid; use wilcoxon or mcnemar")
  if (!opts$correction %in% c("holm", "BH", "none")) die("--correction: ", opts$correction, " is not valid; use holm, BH or none")
  if (!opts$scope %in% c("family", "all")) die("--scope: ", opts$scope, " is not valid; use family or all")
  if (!opts$protocol %in% c("default", "study")) die("--protocol: ", opts$protocol, " is not valid; use default or study")
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

# Which of the sorted values effsize 0.8's binary search (.bsearch.partition) leaves at index n + 1 of
# the sorted `against` (n values): it searches every value at once (L = 1, H = n, M = floor((L + H) / 2);
# value <= against[M] sets H = M, else L = M + 1) until H <= L for all of them; a value above every
# `against` settles at L = H = n and each further round, run for values not settled yet, moves it to n + 1.
effsize_beyond <- function(values, against) {
  n <- length(against)
  low <- rep(1, length(values))
  high <- rep(n, length(values))
  repeat {
    middle <- (low + high) %/% 2
    left <- values <= against[middle]
    high <- ifelse(left, middle, high)
    low <- ifelse(left, low, middle + 1)
    if (all(high <= low)) return(low > n)
  }
}

# Cliff's delta of x against y and its confidence interval (Cliff 1996; effsize 0.8's cliff.delta with
# use.unbiased = TRUE, use.normal = FALSE): D_ij = sign(x_i - y_j), d = mean D, d' = d shrunk by
# (n1 n2 - 1) / (n1 n2) when |d| = 1, S = (n2^2 sum (r_i - d')^2 + n1^2 sum (c_j - d')^2 - sum (D_ij - d')^2)
# / (n1 n2 (n1 - 1) (n2 - 1)) over row means r_i and column means c_j of D, Z = qt(1 - (1 - level) / 2,
# n1 + n2 - 2). effsize = TRUE: effsize's column means, -1/n1 instead of -1 for a y_j that its search
# leaves beyond every x. Bounds NA for a side of one value or S < 0.
cliffs_delta_interval <- function(x, y, effsize = FALSE, level = 0.95) {
  xs <- sort(x)
  ys <- sort(y)
  n1 <- length(xs)
  n2 <- length(ys)
  y_below <- findInterval(xs, ys, left.open = TRUE)  # y_j < x_i
  y_above <- n2 - findInterval(xs, ys)               # y_j > x_i
  x_above <- n1 - findInterval(ys, xs)               # x_i > y_j
  x_below <- findInterval(ys, xs, left.open = TRUE)  # x_i < y_j
  greater <- sum(y_below)
  less <- sum(y_above)
  d <- (greater - less) / (as.numeric(n1) * n2)
  result <- c(estimate = d, low = NA_real_, high = NA_real_)
  if (n1 < 2 || n2 < 2) return(result)
  shrunk <- if (abs(d) == 1) d * (n1 * n2 - 1) / (n1 * n2) else d
  rows <- (y_below - y_above) / n2
  columns <- (x_above - x_below) / n1
  if (effsize) columns[effsize_beyond(ys, xs)] <- -1 / n1
  squares <- greater * (1 - shrunk)^2 + (as.numeric(n1) * n2 - greater - less) * shrunk^2 + less * (1 + shrunk)^2
  variance <- (n2^2 * sum((rows - shrunk)^2) + n1^2 * sum((columns - shrunk)^2) - squares) /
    (as.numeric(n1) * n2 * (n1 - 1) * (n2 - 1))
  if (variance < 0) return(result)
  z <- qt(1 - (1 - level) / 2, n1 + n2 - 2)
  spread <- z * sqrt(variance) * sqrt((1 - shrunk^2)^2 + z^2 * variance)
  scale <- 1 - shrunk^2 + z^2 * variance
  result[["low"]] <- if (d == -1) -1 else (shrunk - shrunk^3 - spread) / scale
  result[["high"]] <- if (d == 1) 1 else (shrunk - shrunk^3 + spread) / scale
  result
}

# The study's wrapper around wilcox.test: NA whenever both samples are constant.
is_constant <- function(v) all(v == v[1])

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
      row[c("p_value", "cliffs_delta", "cliffs_delta_low", "cliffs_delta_high", "odds_ratio")] <- NA_real_
      row[c("magnitude", "both_pass", "a_only", "b_only", "both_fail")] <- NA_character_
    } else if (opts$test == "wilcoxon") {
      study <- opts$protocol == "study"
      row$p_value <- if (study && is_constant(x) && is_constant(y)) NA_real_ else
        suppressWarnings(wilcox.test(x, y, paired = TRUE, exact = FALSE, correct = FALSE)$p.value)
      delta <- cliffs_delta_interval(x, y, effsize = study)
      row$cliffs_delta <- delta[["estimate"]]
      row$cliffs_delta_low <- delta[["low"]]
      row$cliffs_delta_high <- delta[["high"]]
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
    c("family", "metric", "n", "p_value", "p_adjusted", "cliffs_delta", "cliffs_delta_low", "cliffs_delta_high",
      "magnitude", "significant", "dropped_a", "dropped_b", "few_pairs")
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
             cliffs_delta_low = number(r$cliffs_delta_low),
             cliffs_delta_high = number(r$cliffs_delta_high),
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
