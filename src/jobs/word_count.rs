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
}

/// Splits `line` into lowercase words: the runs of `[a-z0-9]` after lowercasing. ASCII lines
/// are lowercased in place, without allocating. The runs are found byte by byte: every byte of
/// a multi-byte character is outside `[a-z0-9]`, so it ends a run as the character would.
pub fn tokenize(mut line: String, mut emit: impl FnMut(&str)) {
    if line.is_ascii() {
        line.make_ascii_lowercase();
    } else {
        line = line.to_lowercase();
    }
    let bytes = line.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        while at < bytes.len() && !is_word_byte(bytes[at]) {
            at += 1;
        }
        let from = at;
        while at < bytes.len() && is_word_byte(bytes[at]) {
            at += 1;
        }
        if at > from {
            emit(&line[from..at]);
        }
    }
}

/// Whether `byte` belongs to a word: `[a-z0-9]`, by table.
fn is_word_byte(byte: u8) -> bool {
    const WORD_BYTES: [bool; 256] = {
        let mut table = [false; 256];
        let mut byte = 0;
        while byte < 256 {
            table[byte] = (byte as u8).is_ascii_lowercase() || (byte as u8).is_ascii_digit();
            byte += 1;
        }
        table
    };
    WORD_BYTES[usize::from(byte)]
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
