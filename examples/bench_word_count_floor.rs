//! The floor under WordCount: the work of the `word_count` job written as one plain loop on one
//! thread, with no engine — read lines, split them with the job's own tokenizer, count each word
//! in the hash map keyed state uses — so BENCHMARKS.md can say how much of the job's time is the
//! work itself. With `--owned-words` each word is first copied into a `String` of its own, as the
//! job's records are (Flink's WordCount does the same); without it a word is copied only when it
//! is new.
//!
//! ```sh
//! cargo run --release --example bench_word_count_floor -- --input FILE --output OUT [--owned-words]
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sluice::core::key_selector::KeyMap;
use sluice::jobs::word_count::tokenize;

#[derive(Debug, Parser)]
#[command(about = "WordCount's work as a plain loop, without the engine")]
struct Cli {
    /// Text file to count the words of.
    #[arg(long)]
    input: PathBuf,
    /// Where to write `word,count` lines.
    #[arg(long)]
    output: PathBuf,
    /// Copy every word into a `String` of its own, as the job's records are.
    #[arg(long)]
    owned_words: bool,
}

/// The same allocator as the job.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn count(cli: &Cli) -> std::io::Result<()> {
    let mut counts: KeyMap<String, u64> = KeyMap::default();
    let mut count_word = |word: &str| {
        if cli.owned_words {
            let word = word.to_string();
            *counts.entry_ref(word.as_str()).or_insert(0) += 1;
        } else {
            *counts.entry_ref(word).or_insert(0) += 1;
        }
    };
    for line in BufReader::new(File::open(&cli.input)?).lines() {
        tokenize(line?, &mut count_word);
    }
    let mut out = BufWriter::new(File::create(&cli.output)?);
    for (word, count) in counts {
        writeln!(out, "{word},{count}")?;
    }
    out.flush()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match count(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
