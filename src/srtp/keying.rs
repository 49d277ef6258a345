//! DTLS-SRTP keying material (RFC 5764 §4.2).

use super::{Error, Profile};

/// One side's master key and salt, borrowed from the exported material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasterKey<'a> {
    pub key: &'a [u8],
    pub salt: &'a [u8],
}

/// Length of the keying material to export from DTLS for `profile`:
/// two keys and two salts.
pub fn keying_material_len(profile: Profile) -> usize {
    2 * (profile.key_len() + profile.salt_len())
}

/// Splits exported keying material, laid out as
/// `client_key | server_key | client_salt | server_salt`, into the client's
/// and the server's master key and salt. The DTLS client protects with the
/// client key and unprotects with the server key, and the reverse.
///
/// Nothing is copied: both halves borrow `material`, which stays the
/// caller's to clear once the contexts are made ([`Srtp::new`](super::Srtp::new)
/// keeps no copy of the master keys either).
pub fn split_keying_material(
    profile: Profile,
    material: &[u8],
) -> Result<(MasterKey<'_>, MasterKey<'_>), Error> {
    if material.len() != keying_material_len(profile) {
        return Err(Error::BadKeyLength);
    }
    let (k, s) = (profile.key_len(), profile.salt_len());
    let client = MasterKey {
        key: &material[..k],
        salt: &material[2 * k..2 * k + s],
    };
    let server = MasterKey {
        key: &material[k..2 * k],
        salt: &material[2 * k + s..],
    };
    Ok((client, server))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_in_rfc_5764_order() {
        let material: Vec<u8> = (0..60).collect();
        let (c, s) = split_keying_material(Profile::Aes128CmHmacSha1_80, &material).unwrap();
        assert_eq!(c.key, &material[0..16]);
        assert_eq!(s.key, &material[16..32]);
        assert_eq!(c.salt, &material[32..46]);
        assert_eq!(s.salt, &material[46..60]);
        assert_eq!(keying_material_len(Profile::AeadAes256Gcm), 88);
        assert_eq!(
            split_keying_material(Profile::AeadAes128Gcm, &material),
            Err(Error::BadKeyLength)
        );
    }
}
