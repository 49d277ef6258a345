//! Gives the shared library an ELF soname, so that programs linked against
//! `librtmedia.so` record `librtmedia.so.<major>.<minor>` and keep working
//! across compatible updates of an installed library (`make install`). For
//! 0.x versions the minor version is the breaking one, as in cargo-c.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd"
    ) {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
        let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
        let soname = if major == "0" {
            format!("librtmedia.so.{major}.{minor}")
        } else {
            format!("librtmedia.so.{major}")
        };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
}
