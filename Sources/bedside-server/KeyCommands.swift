import ArgumentParser
import BedsideServerKit
import Foundation

struct RotateKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Wrap the database's data key under a new master key (the data itself is not rewritten).",
        discussion: """
            Without --new-master-key-file the key file in use (--master-key-file, or <data-dir>/master.key) is replaced by a \
            new key in place. With it, the new key goes to that file (made when missing) and the old file stays for you to \
            destroy; start the server with --master-key-file and the new file from then on. A running server keeps working. \
            Back up the new key before you destroy the old one.
            """)

    @OptionGroup var options: ServerOptions

    @Option(help: "Where the new master key goes (made 0600 when missing); default: in place of the current one.", completion: .file())
    var newMasterKeyFile: String?

    func run() async throws {
        let configuration = options.configuration
        guard FileManager.default.fileExists(atPath: configuration.databasePath) else {
            throw ValidationError("There is no database in \(configuration.dataDirectory.path) to rotate the key of.")
        }
        let store = try options.openStore()
        defer { try? store.close() }
        do {
            let outcome = try MasterKeyRotation.rotate(
                store: store, current: configuration.masterKeyFile, to: newMasterKeyFile, at: Int64(Date().timeIntervalSince1970 * 1000))
            print("The data key is now wrapped by the master key in \(outcome.path) (fingerprint \(outcome.fingerprint)).")
            if !outcome.replacedInPlace {
                print("Start the server with --master-key-file \(outcome.path) from now on; the old key no longer opens this database:")
                print("destroy \(configuration.masterKeyFile.path) and its copies once the new key is backed up.")
            } else {
                print("The old key no longer opens this database: replace its copies (backups of the key) with the new one.")
            }
        } catch let error as StoreEncryptionError {
            throw CommandFailure(error.description)
        }
    }
}
