//! `morket-stack`: the command-line layer over the engine library. Only this
//! binary prints.

#[path = "../stacks/mod.rs"]
mod stacks;

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
