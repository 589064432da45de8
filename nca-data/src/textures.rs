//! The textures nca ships for `nca train --texture` (made for nca, under its licence; see
//! `nca-data/textures/README.md`), embedded so that a name needs no file.

/// Each built-in texture's name and PNG bytes.
pub const TEXTURES: [(&str, &[u8]); 1] = [("dots", include_bytes!("../textures/dots.png"))];

/// The PNG bytes of the built-in texture `name`.
pub fn texture_png(name: &str) -> Option<&'static [u8]> {
    TEXTURES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, bytes)| *bytes)
}
