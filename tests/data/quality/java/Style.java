package fixtures;

import java.util.*;
import java.io.File;

/**
 * Hand-written class with known Checkstyle findings in every category (tests/test_quality_java.py).
 */
public class Style {
    static public final int limit = 10;

    public int Compute_Value(int x) {
        int y=x * 42;
        if (x > 1) return y;
        long big = 1l;
        // TODO make this faster
        return y + (int) big + limit;   
    }

    @SuppressWarnings("unused") public void old() {
        String message = "a line that is far too long for the limit of eighty characters in Sun style";
        System.out.println(message);
    }

    public boolean check(boolean a, boolean b, boolean c) {
        if (a && b || c) {
            return true;
        }
        return false;
    }
}
