//! Where received files go when the user has not said.

use std::path::{Path, PathBuf};

/// The directory downloads go to: `configured` (`[me] downloads`) if set, else the user's
/// download directory (`~/Downloads`, or what `XDG_DOWNLOAD_DIR` says), else `downloads/` in
/// qqchat's data directory, for machines without a home or a desktop.
pub fn download_dir(configured: Option<&Path>, data_dir: &Path) -> PathBuf {
    if let Some(dir) = configured {
        return dir.to_owned();
    }
    directories::UserDirs::new()
        .and_then(|dirs| dirs.download_dir().map(Path::to_path_buf))
        .unwrap_or_else(|| data_dir.join("downloads"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_directory_wins_and_there_is_always_one() {
        let data = Path::new("/data/qqchat");
        assert_eq!(
            download_dir(Some(Path::new("/srv/in")), data),
            Path::new("/srv/in")
        );
        let dir = download_dir(None, data);
        let user =
            directories::UserDirs::new().and_then(|d| d.download_dir().map(Path::to_path_buf));
        assert_eq!(dir, user.unwrap_or_else(|| data.join("downloads")));
        assert!(dir.is_absolute());
    }
}
