//! Tasks: one subtask of an operator chain, run on its own thread. The task loop reads its
//! inputs and drives the chain (`run`); operators are linked into a chain (`chain`) through the
//! operator traits (`operator`, `two_input`) and emit through their outputs (`output`).

pub mod chain;
pub mod operator;
pub mod output;
mod run;
pub mod two_input;
pub mod writer_link;

pub use run::{InputStatus, OneInputProcessor, Task, TaskInput, TwoInputProcessor};
