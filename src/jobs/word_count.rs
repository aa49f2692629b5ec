//! WordCount, as Flink's example: read text from a file or a socket, lowercase each line, take
//! the runs of `[a-z0-9]` as words, and count each word.
//!
//! From a file the job is bounded and runs in batch mode: it writes one `word,count` line per
//! distinct word with its final count. From a socket it runs in streaming mode and prints every
//! updated count.

use std::path::PathBuf;

use clap::Args;

use crate::prelude::*;

/// Command-line options of WordCount.
#[derive(Debug, Clone, Args)]
pub struct WordCountArgs {
    /// Text file (or directory of files) to count the words of.
    #[arg(long, conflicts_with = "hostname")]
    pub input: Option<PathBuf>,
    /// Where to write `word,count` lines; standard output when absent.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Read lines from this host's socket instead of a file (with --port).
    #[arg(long, requires = "port")]
    pub hostname: Option<String>,
    /// The socket port to read from.
    #[arg(long)]
    pub port: Option<u16>,
    /// Parallelism of the job (default: the number of CPU cores).
    #[arg(long, short = 'p')]
    pub parallelism: Option<usize>,
    /// Emit every updated count instead of final counts (the bounded input still ends).
    #[arg(long)]
    pub streaming: bool,
    /// Serve the web dashboard while the job runs.
    #[command(flatten)]
    pub web: super::WebArgs,
}

/// Splits `line` into lowercase words: the runs of `[a-z0-9]` after lowercasing. ASCII lines
/// are lowercased in place, without allocating. Every byte of a multi-byte character is outside
/// `[a-z0-9]`, so it ends a run as the character would.
///
/// The line is read 64 bytes at a time: a bit per byte says whether it belongs to a word, and a
/// word starts and ends where that bit changes, found with `trailing_zeros` rather than by a
/// branch per byte.
pub fn tokenize(mut line: String, mut emit: impl FnMut(&str)) {
    if line.is_ascii() {
        line.make_ascii_lowercase();
    } else {
        line = line.to_lowercase();
    }
    let mut word_start = None;
    // Whether the last byte of the previous block belonged to a word.
    let mut carry = 0;
    for (block, bytes) in line.as_bytes().chunks(64).enumerate() {
        let in_word = word_bits(bytes);
        let previous = (in_word << 1) | carry;
        carry = in_word >> 63;
        // A bit where a word starts or where the byte after a word is: they alternate.
        let mut changes = in_word ^ previous;
        while changes != 0 {
            let at = block * 64 + changes.trailing_zeros() as usize;
            changes &= changes - 1;
            match word_start.take() {
                None => word_start = Some(at),
                Some(from) => emit(&line[from..at]),
            }
        }
    }
    if let Some(from) = word_start {
        emit(&line[from..]);
    }
}

/// Bit `i` set where `bytes[i]` (of at most 64) is in `[a-z0-9]`.
fn word_bits(bytes: &[u8]) -> u64 {
    let mut bits = 0;
    let mut lanes = bytes.chunks_exact(8);
    let mut lane = 0;
    for chunk in lanes.by_ref() {
        let word: [u8; 8] = chunk.try_into().unwrap_or_default();
        bits |= word_bytes_of(u64::from_le_bytes(word)) << lane;
        lane += 8;
    }
    let rest = lanes.remainder();
    if !rest.is_empty() {
        let mut word = [0; 8];
        for (to, &byte) in word.iter_mut().zip(rest) {
            *to = byte;
        }
        bits |= word_bytes_of(u64::from_le_bytes(word)) << lane;
    }
    bits
}

/// Eight bits saying which of the eight bytes packed in `x` are in `[a-z0-9]`. Each byte is
/// compared on its low seven bits, where adding a constant cannot carry into the next byte,
/// and a byte with its high bit set (part of a multi-byte character) is in no word.
fn word_bytes_of(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let low = x & !HIGH;
    // The high bit of `low + (0x80 - c)` is set where the byte is at least `c`.
    let at_least = |c: u8| low + ONES * (0x80 - u64::from(c));
    let letter = at_least(b'a') & !at_least(b'z' + 1);
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let high_bits = (letter | digit) & !x & HIGH;
    // Gather the eight high bits into the low byte, byte 0's first.
    ((high_bits >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Builds the WordCount pipeline on `env` and returns the stream of `(word, count)`.
pub fn build(
    env: &StreamExecutionEnvironment,
    args: &WordCountArgs,
) -> Result<DataStream<(String, u64)>, String> {
    if let Some(p) = args.parallelism {
        env.set_parallelism(p);
    }
    let text = match (&args.input, &args.hostname, args.port) {
        (Some(input), _, _) => env.read_text_file(input),
        (None, Some(host), Some(port)) => env.socket_text_stream(host, port),
        _ => return Err("give --input FILE, or --hostname HOST --port PORT".into()),
    };
    let mode = if args.streaming {
        RuntimeMode::Streaming
    } else {
        RuntimeMode::Automatic
    };
    env.set_runtime_mode(mode);
    Ok(text
        .flat_map(|line: String, out: &mut Collector<'_, (String, u64)>| {
            tokenize(line, |word| out.collect((word.to_string(), 1)));
        })
        .name("Tokenizer")
        .key_by_ref(|(word, _): &(String, u64)| word)
        .sum(|(_, count): &mut (String, u64)| count)
        .name("Counter"))
}

/// Runs WordCount to completion: counts go to `--output` (one file) or standard output.
pub fn run(args: &WordCountArgs) -> Result<JobExecutionResult, String> {
    let env = StreamExecutionEnvironment::new();
    args.web.apply(&env);
    let counts = build(&env, args)?;
    match &args.output {
        Some(path) => {
            counts
                .write_as_csv(path)
                .name("Sink: Word Counts")
                .set_parallelism(1);
        }
        None => {
            counts.print();
        }
    }
    env.execute("WordCount").map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        tokenize(line.to_string(), |w| words.push(w.to_string()));
        words
    }

    #[test]
    fn tokenizes_runs_of_ascii_letters_and_digits() {
        assert_eq!(
            words("To be, or NOT to-be: 2b!"),
            ["to", "be", "or", "not", "to", "be", "2b"]
        );
        assert_eq!(words("  "), Vec::<String>::new());
        assert_eq!(words("don't café_x9"), ["don", "t", "caf", "x9"]);
        // U+212A KELVIN SIGN lowercases to an ASCII 'k'.
        assert_eq!(words("\u{212A}ilo"), ["kilo"]);
    }

    /// The tokenizer's definition, character by character.
    fn reference(line: &str) -> Vec<String> {
        line.to_lowercase()
            .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
            .filter(|word| !word.is_empty())
            .map(String::from)
            .collect()
    }

    #[test]
    fn word_bytes_are_found_eight_at_a_time() {
        for byte in 0..=255u8 {
            for lane in 0..8 {
                let mut word = [b' '; 8];
                word[lane] = byte;
                let expected = u64::from(byte.is_ascii_lowercase() || byte.is_ascii_digit());
                assert_eq!(
                    word_bytes_of(u64::from_le_bytes(word)),
                    expected << lane,
                    "byte {byte:#x} in lane {lane}"
                );
            }
        }
        assert_eq!(
            word_bytes_of(u64::from_le_bytes(*b"ab c9\xff0z")),
            0b1101_1011
        );
    }

    #[test]
    fn long_words_and_words_at_the_line_ends_come_out_whole() {
        for length in [1, 62, 63, 64, 65, 127, 128, 129, 200] {
            for offset in [0, 1, 63] {
                let line = format!(
                    "{}{} x {}",
                    " ".repeat(offset),
                    "a".repeat(length),
                    "b".repeat(64)
                );
                assert_eq!(words(&line), reference(&line), "{length} after {offset}");
            }
        }
        let exact = "c".repeat(128);
        assert_eq!(words(&exact), [exact]);
    }

    proptest::proptest! {
        #[test]
        fn tokenizes_as_the_reference(line in "[a-zA-Z0-9 ,.!_é\u{212A}-]{0,300}") {
            proptest::prop_assert_eq!(words(&line), reference(&line));
        }
    }
}
