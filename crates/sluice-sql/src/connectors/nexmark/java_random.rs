//! `java.util.Random`: the 48-bit linear congruential generator the Nexmark generator draws its
//! values from, bit for bit, so a seed gives the values a Java generator would.

/// The generator's state and its draws, as `java.util.Random` defines them.
#[derive(Debug, Clone)]
pub struct JavaRandom {
    seed: u64,
}

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const ADDEND: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

impl JavaRandom {
    /// `new Random(seed)`.
    pub fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed as u64 ^ MULTIPLIER) & MASK,
        }
    }

    /// The next `bits` (at most 32) random bits, as Java's `next(bits)`.
    fn next(&mut self, bits: u32) -> i32 {
        self.seed = self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        (self.seed >> (48 - bits)) as u32 as i32
    }

    /// `nextInt()`: any `int`.
    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextInt(bound)`: uniform in `0..bound`; a bound below 1 is taken as 1 (Java throws).
    pub fn next_int_below(&mut self, bound: i32) -> i32 {
        let bound = bound.max(1);
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    /// `nextLong()`.
    pub fn next_long(&mut self) -> i64 {
        let high = i64::from(self.next(32)) << 32;
        high.wrapping_add(i64::from(self.next(32)))
    }

    /// `nextDouble()`: uniform in `[0, 1)`.
    pub fn next_double(&mut self) -> f64 {
        let high = i64::from(self.next(26)) << 27;
        (high + i64::from(self.next(27))) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by `java.util.Random` on a JVM.
    #[test]
    fn draws_what_java_draws() {
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next_int(), -1_170_105_035);
        assert_eq!(r.next_int_below(10), 3);
        assert_eq!(r.next_int_below(13), 9);
        assert_eq!(r.next_long(), 884_324_181_205_335_268);
        assert_eq!(r.next_double(), 0.942_073_543_028_212_8);
        assert_eq!(r.next_int_below(100), 18);
        assert_eq!(r.next_int_below(1 << 20), 697_878);
        let mut q = JavaRandom::new(-7);
        assert_eq!(q.next_int_below(1_000_000_007), 577_934_662);
        assert_eq!(q.next_int_below(2), 1);
        assert_eq!(q.next_long(), -6_028_743_012_628_894_217);
        assert_eq!(
            (10f64.powf(q.next_double() * 6.0) * 100.0 + 0.5).floor() as i64,
            134_567
        );
    }
}
