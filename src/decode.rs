//! TEMPORARY stub until the decode module lands.
pub struct Decoded { pub text: String }
pub fn decode_owned(bytes: Vec<u8>, _ct: Option<&str>, _tld: Option<&str>) -> Decoded {
    Decoded { text: String::from_utf8_lossy(&bytes).into_owned() }
}
