//! The recording benchmark (`recording.rs`) on mimalloc, the allocator the `raceway` binary
//! uses and the one we suggest to instrumented services that record on hot paths.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "recording.rs"]
mod recording;

fn main() {
    recording::main();
}
