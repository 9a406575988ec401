#[path = "../examples/common/mod.rs"]
mod common;
fn main() {}
