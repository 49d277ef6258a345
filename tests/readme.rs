//! The README shows `examples/c/quickstart.c` verbatim (the Rust quick start
//! is compiled as a doc test through `src/lib.rs`), so neither can go stale.

#[test]
fn readme_c_quick_start_is_the_tested_file() {
    let readme = include_str!("../README.md");
    let c = include_str!("../examples/c/quickstart.c");
    assert!(
        readme.contains(&format!("```c\n{}```", c)),
        "README's C quick start differs from examples/c/quickstart.c"
    );
}
