import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A data directory Bedside made, marked as its own, and the only files in it Bedside ever removes.
///
/// `--data-dir ~/Documents` must never cost anyone their documents: Bedside writes a marker file when it makes
/// (or adopts) a directory, refuses a directory that holds anything but its own files and has no marker, and at
/// logout destroys only the files it knows by name. Every file is reached relative to the directory's own
/// descriptor, opened without following links, and a link where a Bedside file should be is removed as a
/// link: its target is never read, overwritten or deleted.
public enum OwnedDirectory {
    /// The marker: present while the directory is Bedside's, removed last at logout.
    public static let markerName = ".bedside-data-directory"
    /// The wrapped data key.
    public static let keyFileName = "vault.key"
    /// The client database (SQLite) and its companions.
    public static let databaseName = "bedside.sqlite"
    /// The lock that keeps a second Bedside out of the directory (`DataDirectoryLock`).
    public static let lockName = "bedside.lock"

    /// Every file Bedside writes here, in the order logout destroys them: the wrapped key first (after that the
    /// rest is ciphertext without a key), then the database, the lock, and the marker last, so a logout that fails
    /// halfway leaves a directory that is still recognisably Bedside's and can be logged out of again.
    public static let destructionOrder = [
        keyFileName, databaseName, databaseName + "-wal", databaseName + "-shm", databaseName + "-journal", lockName, markerName,
    ]

    /// The temporary files `SecureFiles.writePrivate` leaves if it is killed between writing and renaming.
    static func isOwnTemporary(_ name: String) -> Bool {
        name.hasPrefix("." + keyFileName + ".") && name.hasSuffix(".tmp")
    }

    static func isOwn(_ name: String) -> Bool {
        destructionOrder.contains(name) || isOwnTemporary(name)
    }

    /// Whether `directory` carries Bedside's marker (a regular file, not a link).
    public static func isMarked(_ directory: URL) -> Bool {
        var info = stat()
        return lstat(directory.appendingPathComponent(markerName).path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Makes `directory` (0700) and marks it; or marks an existing one that holds nothing but Bedside's own files
    /// (an empty one, or one from before markers existed). Anything else is refused and left exactly as it was.
    public static func claim(_ directory: URL) throws(VaultError) {
        var info = stat()
        if lstat(directory.path, &info) != 0 {
            guard errno == ENOENT else { throw .system("Cannot use the data directory \(directory.path): \(String(cString: strerror(errno)))") }
            try SecureFiles.makePrivateDirectory(directory)
        } else if (info.st_mode & S_IFMT) == S_IFLNK {
            throw .system("The data directory \(directory.path) is a symbolic link; Bedside does not follow links. Pass the real directory.")
        } else if (info.st_mode & S_IFMT) != S_IFDIR {
            throw .system("The data directory \(directory.path) is not a directory.")
        }
        let names = try entries(directory)
        if !names.contains(markerName) {
            guard names.allSatisfy(isOwn) else { throw .notBedsideDirectory(directory.path) }
        } else if !isMarked(directory) {
            throw .notBedsideDirectory(directory.path)  // a link or a directory in the marker's place
        }
        // Tighten an existing directory too: only this user may read an account's files.
        try SecureFiles.makePrivateDirectory(directory)
        if !names.contains(markerName) {
            try SecureFiles.writePrivate(Data("Bedside data directory: Bedside removes only its own files here.\n".utf8), to: directory.appendingPathComponent(markerName))
        }
    }

    /// Destroys Bedside's files in a marked directory, the wrapped key first; other files and links' targets stay.
    ///
    /// - Parameter keepingClaim: keep the lock and the marker (a new login replacing a previous account's
    ///   leftovers, in a directory this process holds); otherwise they go too and the directory is left empty.
    /// - Throws: `.notBedsideDirectory` for an unmarked directory; `.system` when the directory cannot be read
    ///   or a file cannot be removed (never a silent success).
    public static func destroyContents(_ directory: URL, keepingClaim: Bool = false) throws(VaultError) {
        let descriptor = open(directory.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw .system("Cannot read the data directory \(directory.path): \(String(cString: strerror(errno))). Nothing was removed.")
        }
        defer { close(descriptor) }
        var marker = stat()
        guard fstatat(descriptor, markerName, &marker, AT_SYMLINK_NOFOLLOW) == 0, (marker.st_mode & S_IFMT) == S_IFREG else {
            throw .notBedsideDirectory(directory.path)
        }
        let temporaries = try entries(directory).filter(isOwnTemporary)
        var names = [keyFileName] + temporaries + destructionOrder.dropFirst()
        if keepingClaim { names.removeAll { $0 == lockName || $0 == markerName } }
        for name in names {
            try destroy(name, in: descriptor, directory: directory)
        }
    }

    /// Shreds and unlinks one regular file, or unlinks a link; anything else in a Bedside file's place is an error.
    static func destroy(_ name: String, in descriptor: Int32, directory: URL) throws(VaultError) {
        var info = stat()
        guard fstatat(descriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw .system("Cannot remove \(directory.path)/\(name): \(String(cString: strerror(errno)))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            let file = openat(descriptor, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
            if file >= 0 {
                SecureFiles.overwrite(file)
                close(file)
            }
        case S_IFLNK:
            break  // removed as a link below; what it points to is not Bedside's
        default:
            throw .system("Cannot remove \(directory.path)/\(name): it is not a file Bedside made. Nothing else was changed.")
        }
        guard unlinkat(descriptor, name, 0) == 0 || errno == ENOENT else {
            throw .system("Cannot remove \(directory.path)/\(name): \(String(cString: strerror(errno)))")
        }
    }

    /// The names in `directory` (not following a link at its own place), or a clear error.
    static func entries(_ directory: URL) throws(VaultError) -> [String] {
        let descriptor = open(directory.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0, let stream = fdopendir(descriptor) else {
            let reason = String(cString: strerror(errno))
            if descriptor >= 0 { close(descriptor) }
            throw .system("Cannot read the data directory \(directory.path): \(reason).")
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
