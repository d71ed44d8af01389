import ArgumentParser
import BedsideServerKit
import Foundation

/// Prints a backup or restore failure as one sentence on stderr and exits 1; nothing was changed.
func backingUp<T>(_ work: () throws -> T) throws -> T {
    umask(0o077)
    do {
        return try work()
    } catch let error as BackupError {
        FileHandle.standardError.write(Data("Error: \(error.message)\n".utf8))
        throw ExitCode.failure
    }
}

struct BackupKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup-key",
        abstract: "Make the key pair backups are encrypted to: PREFIX.pub for the server, PREFIX.key (0600) to keep offline.",
        discussion: """
            PREFIX.pub goes to `backup --recipient` and `serve --backup-recipient`; it can only encrypt. \
            PREFIX.key is the only way to read those backups: keep it off the server (a password manager, \
            a USB stick in a safe) and bring it back only to restore. An existing file is never overwritten. \
            X25519 with HPKE (RFC 9180); both files are text, with the key's fingerprint in a comment.
            """)

    @Option(help: "Where to write the pair: PREFIX.pub and PREFIX.key.", completion: .file())
    var output: String

    func run() throws {
        let secret = try backingUp { try BackupSecretKey.generate(prefix: output) }
        print("Wrote \(output).pub (give it to the server) and \(output).key (0600: keep it offline, it opens every backup).")
        print("Fingerprint: \(secret.recipient.fingerprintText)")
    }
}

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write an encrypted backup of the data directory, while the server runs.",
        discussion: """
            Copies the database with SQLite's online backup (a consistent state while the server goes on \
            serving and writing), with tls/ and master.key when present, encrypted to the recipient key \
            in 1 MiB authenticated parts. mail/ (the development mailbox) and exports/ (Bulk Data files) \
            are not included. The output file is created 0600 and never overwrites an existing one.
            """)

    @OptionGroup var options: ServerOptions

    @Option(help: "The public key file made by `backup-key` (PREFIX.pub).", completion: .file())
    var recipient: String

    @Option(help: "The backup file to write; it must not exist.", completion: .file())
    var output: String

    func run() throws {
        try options.requireSQLite()
        let report = try backingUp {
            let key = try BackupRecipientKey.read(path: recipient)
            return try ServerBackup.write(dataDirectory: options.configuration.dataDirectory, recipient: key, output: output)
        }
        print("Backed up \(options.configuration.dataDirectory.path) to \(report.path) in \(String(format: "%.1f", report.seconds)) s: "
            + "\(report.contents.summary); \(BackupContents.size(report.bytes)) encrypted for \(report.recipientFingerprint).")
    }
}

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup into a new data directory (--data-dir), which `serve` then serves.",
        discussion: """
            The target must not exist, or be empty. Every part of the backup is checked before anything \
            becomes visible; the database must pass SQLite's integrity check. A truncated, altered or \
            foreign file, or a wrong key, is refused with nothing changed. Directories are 0700, keys and \
            the database 0600.
            """)

    @OptionGroup var options: ServerOptions

    @Option(help: "The backup file.", completion: .file())
    var input: String

    @Option(help: "The secret key file made by `backup-key` (PREFIX.key).", completion: .file())
    var key: String

    func run() throws {
        try options.requireSQLite()
        let target = options.configuration.dataDirectory
        let report = try backingUp {
            let secret = try BackupSecretKey.read(path: key)
            return try ServerBackup.restore(input: input, key: secret, into: target)
        }
        print("Restored the backup of \(report.contents.createdAt) (bedside-server \(report.contents.serverVersion)) into \(report.dataDirectory): "
            + "\(report.contents.summary).")
        print("Serve it with: bedside-server serve --data-dir \(report.dataDirectory) …")
    }
}
