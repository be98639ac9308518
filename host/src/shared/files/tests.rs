//! Reads and writes against what may lie at a path: FIFOs, devices, sparse giants, planted
//! symlinks, over-long lines, files others may change.

use std::os::unix::fs::PermissionsExt;

use super::*;

#[test]
fn a_read_refuses_what_is_not_a_regular_file_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("state.json");
    rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
    let err = read_bounded(&fifo, 100).unwrap_err();
    assert!(err.to_string().contains("it is a FIFO, not a regular file"), "{err}");
    let err = read_bounded(Path::new("/dev/zero"), 100).unwrap_err();
    assert!(err.to_string().contains("it is a device"), "{err}");
    let err = read_bounded(dir.path(), 100).unwrap_err();
    assert!(err.to_string().contains("it is a directory"), "{err}");
    let link = dir.path().join("config.toml");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    let err = read_bounded(&link, 100).unwrap_err();
    assert!(err.to_string().contains("it is a device"), "{err}");
    assert_eq!(
        read_bounded(&dir.path().join("missing"), 100).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
}

#[test]
fn a_read_stops_at_its_cap_even_when_the_size_says_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = dir.path().join("giant.wasm");
    File::create(&sparse).unwrap().set_len(1 << 40).unwrap();
    let err = read_bounded(&sparse, 1 << 20).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::FileTooLarge, "{err}");
    // /proc files say 0 bytes and hold more.
    let err = read_bounded(Path::new("/proc/self/maps"), 10).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::FileTooLarge, "{err}");
    std::fs::write(dir.path().join("small"), b"12345").unwrap();
    assert_eq!(read_bounded(&dir.path().join("small"), 5).unwrap(), b"12345");
}

#[test]
fn a_write_never_follows_a_symlink_planted_at_its_temporary_name_or_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let target = dir.path().join("state.json");
    // A symlink at the temporary name a write uses is removed, never written through.
    let planted = temporary_name(&target);
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let mut file = create_exclusively(&planted, 0o600).unwrap();
    file.write_all(b"temporary").unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(std::fs::symlink_metadata(&planted).unwrap().is_file());
    write_atomically(&target, b"new state", 0o600).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(std::fs::read(&target).unwrap(), b"new state");

    std::fs::remove_file(&target).unwrap();
    std::os::unix::fs::symlink(&victim, &target).unwrap();
    write_atomically(&target, b"newer", 0o600).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(std::fs::symlink_metadata(&target).unwrap().is_file());
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_line_past_its_cap_is_skipped_and_the_next_still_comes() {
    let text = format!("first\n{}\nthird\n\nlast", "x".repeat(100_000));
    let mut input = io::BufReader::with_capacity(64, text.as_bytes());
    let mut line = Vec::new();
    let mut seen = Vec::new();
    loop {
        match read_line_bounded(&mut input, &mut line, 1000).unwrap() {
            Line::End => break,
            Line::Read => seen.push(String::from_utf8(line.clone()).unwrap()),
            Line::TooLong(len) => {
                assert!(line.capacity() < 4096, "an over-long line is not kept");
                seen.push(format!("too long: {len}"));
            }
        }
    }
    assert_eq!(seen, ["first", "too long: 100000", "third", "", "last"]);
}

#[test]
fn files_others_may_write_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"").unwrap();
    for (mode, why) in [
        (0o600, None),
        (0o644, None),
        (0o664, Some("its group may write it (mode 0664)")),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let found = writable_by_others(&std::fs::metadata(&path).unwrap());
        assert_eq!(found.as_deref(), why);
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(
        writable_by_others(&std::fs::metadata(&path).unwrap()).as_deref(),
        Some("anyone may write it (mode 0666)")
    );
    let name = temporary_name(Path::new("/state/warm.json"));
    let extension = name.extension().unwrap().to_str().unwrap();
    assert!(is_temporary_extension(extension), "{extension}");
    assert!(is_temporary_extension("tmp123"), "an earlier version's");
    assert!(!is_temporary_extension("tmp") && !is_temporary_extension("tmp_1") && !is_temporary_extension("tmpx_1"));
}
