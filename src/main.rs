//! The `mosaic-social` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a request makes many small, short-lived allocations
/// (JSON values, headers, rows), and a profile at concurrency 1 showed about 12 % of the
/// service's CPU time in glibc's malloc and free (`malloc_consolidate` among them).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    mosaic_social::cli::run().await
}
