//! The `mosaic-social` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a request makes many small, short-lived allocations
/// (JSON values, headers, rows), and a profile at concurrency 1 showed about 12 % of the
/// service's CPU time in glibc's malloc and free (`malloc_consolidate` among them).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // mimalloc asks for transparent huge pages on its segments (MADV_HUGEPAGE), so every segment
    // it touches again after purging it is a 2 MiB page the kernel zeroes: 14 % of the service's
    // CPU in a profile of webhook delivery (`clear_page_erms`), and the peak RSS rounded up by
    // whole huge pages (54 -> 36 MiB for creates and a delivery backlog with them off; 49 -> 43
    // us of service CPU per event delivered). The flag is the process's, checked at each page
    // fault, so setting it here covers the segments made before too.
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("transparent huge pages could not be turned off: {e}");
    }
    mosaic_social::cli::run().await
}
