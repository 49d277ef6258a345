//! Library version, at compile time (header macros) and at run time.

/// Major version of the header this program was compiled against.
pub const RTM_VERSION_MAJOR: u32 = 0;
/// Minor version of the header this program was compiled against.
pub const RTM_VERSION_MINOR: u32 = 2;
/// Patch version of the header this program was compiled against.
pub const RTM_VERSION_PATCH: u32 = 0;
/// The three numbers packed as `major << 16 | minor << 8 | patch`, the form
/// `rtm_version()` returns, so a program can compare them.
pub const RTM_VERSION_NUMBER: u32 =
    (RTM_VERSION_MAJOR << 16) | (RTM_VERSION_MINOR << 8) | RTM_VERSION_PATCH;

/// Version of the library linked at run time, packed as
/// `major << 16 | minor << 8 | patch` (compare with `RTM_VERSION_NUMBER`).
/// Thread-safe.
#[no_mangle]
pub extern "C" fn rtm_version() -> u32 {
    RTM_VERSION_NUMBER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_constants_match_cargo_version() {
        let parse = |s: &str| s.parse::<u32>().unwrap();
        assert_eq!(RTM_VERSION_MAJOR, parse(env!("CARGO_PKG_VERSION_MAJOR")));
        assert_eq!(RTM_VERSION_MINOR, parse(env!("CARGO_PKG_VERSION_MINOR")));
        assert_eq!(RTM_VERSION_PATCH, parse(env!("CARGO_PKG_VERSION_PATCH")));
        assert_eq!(rtm_version(), 0x00_02_00);
    }
}
