package com.github.nexmark.flink.udf;

import org.apache.flink.table.functions.ScalarFunction;

/**
 * The Nexmark benchmark's count_char(s, c) for Flink, under the class name the benchmark's q14
 * names: how many bytes of s equal the first byte of c (0 when s is NULL).
 */
public class CountChar extends ScalarFunction {
    public long eval(String s, String c) {
        if (s == null) {
            return 0;
        }
        byte wanted = c.getBytes(java.nio.charset.StandardCharsets.UTF_8)[0];
        long count = 0;
        for (byte b : s.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            if (b == wanted) {
                count++;
            }
        }
        return count;
    }
}
