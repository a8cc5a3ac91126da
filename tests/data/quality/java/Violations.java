package fixtures;

import java.util.List;
import javax.crypto.spec.SecretKeySpec;

/** Hand-written class with known findings in every PMD category (tests/test_quality_java.py). */
public class Violations {
    private int count;

    public synchronized void increment() {
        count++;
    }

    public String join(List<String> parts) {
        String result = "";
        for (String part : parts) {
            result += part;
        }
        return result;
    }

    public void ignore() {
        int unused = 0;
        try {
            count = count / 2;
        } catch (ArithmeticException e) {
        }
    }

    public boolean isPositive(int x) {
        if (x > 0) {
            return true;
        } else {
            return false;
        }
    }

    public byte[] key() {
        SecretKeySpec spec = new SecretKeySpec("hard-coded-key!!".getBytes(), "AES");
        return spec.getEncoded();
    }
}
