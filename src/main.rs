//! The `strikevote` binary: everything lives in the library; this only runs the CLI.

/// Every block of memory is overwritten with zeros when it is freed: what members sent (tokens,
/// plain choices from pages without JavaScript) and what the server made of it does not
/// linger in freed memory, where a memory image of the process would find it
/// (tests/api/security.rs, "the server wipes what members sent").
#[global_allocator]
static ALLOC: zeroizing_alloc::ZeroAlloc<std::alloc::System> =
    zeroizing_alloc::ZeroAlloc(std::alloc::System);

fn main() -> std::process::ExitCode {
    strikevote::cli::run()
}
