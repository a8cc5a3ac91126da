import java.util.List;

/**
 * Counts the positive numbers (a bare method, as code models write them).
 * @param numbers the numbers
 * @return how many are positive
 */
public static int countPositive(List<Integer> numbers) {
    int count = 0;
    for (int n : numbers) {
        if (n > 0) {
            count++;
        }
    }
    return count;
}
