import ArgumentParser
import BedsideConsole
import BedsideCore
import BedsideServerKit
import Foundation
import Logging

@main
struct BedsideServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bedside-server",
        abstract: "The Bedside reference FHIR R4 server: accounts, login with e-mailed codes, care teams, audit.",
        discussion: """
            Data (database, dev CA, dev mail) lives in --data-dir, default $XDG_DATA_HOME/bedside-server.
            Start with `bedside-server seed-demo` and `bedside-server serve --dev-tls`.
            """,
        version: BedsideVersion.current,
        subcommands: [
            ServeCommand.self, UserCommand.self, TeamCommand.self, AssignCommand.self, RulesCommand.self, ClientCommand.self, AuditCommand.self,
            RotateKeyCommand.self, SeedDemoCommand.self, BackupKeyCommand.self, BackupCommand.self, RestoreCommand.self,
            PatientCommand.self, RetentionCommand.self,
        ])
}

/// Options every subcommand takes.
struct ServerOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Directory for the database, dev CA and dev mail.", completion: .directory)
    var dataDirectory: String?

    @Option(
        help: ArgumentHelp(
            "The master key that unlocks the database (default <data-dir>/master.key, made at first start).",
            discussion: "Keep it outside the data directory in production, and a copy somewhere safe: without it the data cannot be read."),
        completion: .file())
    var masterKeyFile: String?

    @Option(
        help: ArgumentHelp(
            "The data in PostgreSQL: postgresql://user:password@host:5432/database?sslmode=verify-full (default: $BEDSIDE_DATABASE_URL, else SQLite in --data-dir).",
            discussion: "Every instance given the same URL and master key is one server. rotate-key, backup and restore work on SQLite only (back PostgreSQL up with its own tools)."))
    var database: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    var configuration: ServerConfiguration {
        var configuration = ServerConfiguration(
            dataDirectory: dataDirectory.map { URL(fileURLWithPath: $0) } ?? ServerConfiguration.defaultDataDirectory())
        configuration.masterKeyPath = masterKeyFile
        return configuration
    }

    /// `--database`, else `BEDSIDE_DATABASE_URL`; nil: SQLite.
    func databaseLocation(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresLocation? {
        guard let url = database ?? environment["BEDSIDE_DATABASE_URL"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        do {
            return try PostgresLocation(url: url)
        } catch {
            throw ValidationError("\(database == nil ? "BEDSIDE_DATABASE_URL" : "--database"): \(error.message)")
        }
    }

    /// The store: PostgreSQL with `--database`, else SQLite in the data directory.
    func openServerStore() async throws -> any ServerStore {
        try await openServerStore(database: try databaseLocation())
    }

    /// The store at `database` (from `databaseLocation()`), else SQLite in the data directory.
    func openServerStore(database: PostgresLocation?) async throws -> any ServerStore {
        var configuration = configuration
        configuration.database = database
        do {
            return try await configuration.openServerStore()
        } catch let error as StoreEncryptionError {
            throw CommandFailure(error.description)
        } catch let error as PostgresStoreError {
            throw CommandFailure("Cannot use the database \(configuration.database?.redacted ?? ""): \(error.message)")
        } catch {
            throw CommandFailure("Cannot open the data directory \(configuration.dataDirectory.path): \(error)")
        }
    }

    /// Refuses when PostgreSQL was asked for: what a subcommand did to SQLite's file would not be the server's.
    func requireSQLite() throws {
        if try databaseLocation() != nil {
            throw CommandFailure(
                "This subcommand works on SQLite's file only, and --database or BEDSIDE_DATABASE_URL names PostgreSQL (back PostgreSQL up with pg_dump).")
        }
    }

    /// The SQLite store of the data directory, for the subcommands that work on its file (rotate-key).
    func openStore() throws -> SQLiteServerStore {
        try requireSQLite()
        do {
            return try configuration.openStore()
        } catch let error as StoreEncryptionError {
            throw CommandFailure(error.description)
        } catch {
            throw CommandFailure("Cannot open the data directory \(configuration.dataDirectory.path): \(error)")
        }
    }

    func bootstrapLogging() {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Reads a password: the first line of stdin with --password-stdin, else from the terminal without echo.
enum PasswordInput {
    static func read(fromStandardInput: Bool, prompt: String) throws -> String {
        do {
            return try SecretPrompt.readLine(prompt: prompt, what: "password", secret: true, fromStandardInput: fromStandardInput)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the server (HTTPS only).")

    @OptionGroup var options: ServerOptions

    @Option(help: "Address to listen on. Loopback by default; 0.0.0.0 to serve a network deliberately.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port = 8443

    @Flag(help: "Use a development CA and certificate for 127.0.0.1/localhost, kept in <data-dir>/tls/.")
    var devTLS = false

    @Option(help: "Certificate chain (PEM) for real use.", completion: .file())
    var cert: String?

    @Option(help: "Private key (PEM) for --cert.", completion: .file())
    var key: String?

    @Option(help: "External base URL when behind a proxy, e.g. https://fhir.example.org.")
    var publicURL: String?

    @OptionGroup var mail: MailOptions

    @Option(
        help: "CA bundle (PEM) to trust for Subscription endpoints, besides the system's. Notifications go over verified https only.",
        completion: .file())
    var outboundCAFile: String?

    @Option(help: "Requests per minute allowed per session (per address before login); more are answered 429 with Retry-After. 0 turns the limit off.")
    var rateLimit = 0

    @Option(
        help: """
            Requests per minute allowed per address from callers not yet known (no token, a token not yet seen valid, \
            the login endpoints); 0 turns it off. Raise it when many people share one address (a care home's network).
            """)
    var unknownCallerLimit = 120

    @Option(
        name: .customLong("trusted-proxy"),
        help: "A reverse proxy (address or CIDR range, repeatable) whose X-Forwarded-For names the client for the audit, budgets and connection cap.")
    var trustedProxies: [String] = []

    @Option(help: "Minutes a finished Bulk Data export's files stay for its client to fetch before they are deleted (1 to 10080).")
    var exportRetentionMinutes = 120

    @Option(
        help: "Where Bulk Data export files are written (default <data-dir>/exports). Instances sharing a --database give one directory they all reach.",
        completion: .directory)
    var exportDirectory: String?

    @OptionGroup var backups: ScheduledBackupOptions

    @OptionGroup var retention: ScheduledRetentionOptions

    @OptionGroup var unusualActivity: UnusualActivityOptions

    func validate() throws {
        if devTLS && (cert != nil || key != nil) { throw ValidationError("Use either --dev-tls or --cert/--key, not both.") }
        if !devTLS && (cert == nil || key == nil) {
            throw ValidationError("The server only speaks HTTPS: pass --dev-tls for development, or --cert and --key.")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535.") }
        guard (1...10_080).contains(exportRetentionMinutes) else {
            throw ValidationError("--export-retention-minutes must be between 1 and 10080 (a week).")
        }
        if let exportDirectory, exportDirectory.isEmpty || exportDirectory.utf8.count > 1_024 || exportDirectory.contains("\u{0}") {
            throw ValidationError("--export-directory must name a directory.")
        }
        guard (0...1_000_000).contains(rateLimit) else { throw ValidationError("--rate-limit must be 0 (off) or a number of requests per minute.") }
        guard (0...1_000_000).contains(unknownCallerLimit) else {
            throw ValidationError("--unknown-caller-limit must be 0 (off) or a number of requests per minute, at most 1000000.")
        }
        if let outboundCAFile, !FileManager.default.isReadableFile(atPath: outboundCAFile) {
            throw ValidationError("--outbound-ca-file '\(outboundCAFile)' cannot be read.")
        }
        for proxy in trustedProxies where AddressRange(proxy) == nil {
            throw ValidationError("--trusted-proxy '\(proxy)' is not an address or CIDR range such as 10.0.0.0/8 or ::1.")
        }
    }

    func run() async throws {
        options.bootstrapLogging()
        var configuration = options.configuration
        configuration.host = host
        configuration.port = port
        configuration.publicBaseURL = publicURL
        if rateLimit > 0 { configuration.rateLimit = RateLimit(requests: rateLimit, windowSeconds: 60) }
        configuration.unknownCallerRateLimit = RateLimit(requests: unknownCallerLimit, windowSeconds: 60)
        configuration.trustedProxies = trustedProxies.compactMap(AddressRange.init)
        configuration.bulkExport.retentionSeconds = Int64(exportRetentionMinutes) * 60
        if let exportDirectory { configuration.bulkExport.directory = URL(fileURLWithPath: exportDirectory).standardizedFileURL }
        configuration.subscriptions.outboundCAFile = outboundCAFile
        if let cert, let key { configuration.tls = .files(certificateChain: cert, privateKey: key) }
        mail.apply(to: &configuration)
        configuration.backups = try backups.schedule()
        let database = try options.databaseLocation()
        if configuration.backups != nil, database != nil {
            throw ValidationError("--backup-every-hours backs up SQLite's file; with --database, back PostgreSQL up with its own tools (pg_dump).")
        }
        configuration.retention = try retention.schedule()
        configuration.unusualActivity = unusualActivity.settings
        let store = try await options.openServerStore(database: database)
        // SQLite: one serving process per data directory (kept until the process ends).
        let serveLock: ServeLock?
        do {
            serveLock = database == nil ? try ServeLock.acquire(dataDirectory: configuration.dataDirectory) : nil
        } catch {
            try? store.close()
            throw CommandFailure(error.message)
        }
        defer { withExtendedLifetime(serveLock) {} }
        let server = BedsideServer(configuration: configuration, store: store)
        let running = try await server.start()
        let shownHost = host.contains(":") ? "[\(host)]" : host
        print("Bedside server \(BedsideVersion.current) listening on https://\(shownHost):\(running.port)/fhir")
        if devTLS {
            print("Development CA: \(DevCertificateAuthority(directory: configuration.tlsDirectory).caCertificatePath)")
            print("  (clients trust it with --ca-file; it is for this machine only)")
        }
        if case .maildir = configuration.mail { print("Login codes are written to \(configuration.mailDirectory.path)/new/") }
        fflush(nil)
        await SignalWaiter.waitForTermination()
        print("Stopping…")
        await running.stop()
        try await store.shutdown()
    }
}

/// Waits for SIGINT or SIGTERM, so the server can finish requests in flight and close the database.
enum SignalWaiter {
    static func waitForTermination() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = OnceFlag()
            var sources: [DispatchSourceSignal] = []
            for number in [SIGINT, SIGTERM] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
                source.setEventHandler {
                    if once.claim() { continuation.resume() }
                }
                source.resume()
                sources.append(source)
            }
            SignalSources.keep(sources)
        }
    }
}

/// Keeps the signal sources alive for the life of the process.
enum SignalSources {
    nonisolated(unsafe) private static var kept: [DispatchSourceSignal] = []
    static func keep(_ sources: [DispatchSourceSignal]) { kept = sources }
}

final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var claimed = false

    func claim() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if claimed { return false }
        claimed = true
        return true
    }
}

/// Where the server's e-mail goes (login codes, invitations): `serve` and `user invite` take the same options.
struct MailOptions: ParsableArguments {
    @Option(help: "SMTP relay for login codes, e.g. smtps://smtp.example.org:465. Without it, mail goes to <data-dir>/mail/new/. The password is read from BEDSIDE_SMTP_PASSWORD.")
    var smtpURL: String?

    @Option(help: "Sender address for login codes.")
    var smtpFrom = "Bedside <no-reply@bedside.invalid>"

    @Option(help: "SMTP user name.")
    var smtpUser: String?

    @Option(help: "CA bundle to trust for the SMTP relay.", completion: .file())
    var smtpCAFile: String?

    func apply(to configuration: inout ServerConfiguration) {
        guard let smtpURL else { return }
        configuration.mail = .smtp(SMTPSettings(
            url: smtpURL, from: smtpFrom, username: smtpUser,
            password: ProcessInfo.processInfo.environment["BEDSIDE_SMTP_PASSWORD"], caFile: smtpCAFile))
    }
}

/// A command that could not do its work, for a reason that is not a usage mistake: its sentence is
/// printed (without the usage text) and the exit status is 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `serve`'s scheduled backups: all three of --backup-every-hours, --backup-recipient and --backup-dir, or none.
struct ScheduledBackupOptions: ParsableArguments {
    @Option(help: "Write an encrypted backup every N hours (1 to 8760) into --backup-dir: the first when none there is newer than N hours, then every N hours.")
    var backupEveryHours: Int?

    @Option(help: "The public key file (PREFIX.pub, from `backup-key`) scheduled backups are encrypted to.", completion: .file())
    var backupRecipient: String?

    @Option(help: "The directory for scheduled backups (created 0700), named bedside-server-<UTC time>.backup.", completion: .directory)
    var backupDir: String?

    @Option(help: "How many of the newest scheduled backups to keep in --backup-dir; older ones are deleted (1 to 1000).")
    var backupKeep = 7

    func validate() throws {
        let given = [backupEveryHours != nil, backupRecipient != nil, backupDir != nil]
        guard given.allSatisfy({ $0 }) || !given.contains(true) else {
            throw ValidationError("Scheduled backups need all of --backup-every-hours, --backup-recipient and --backup-dir.")
        }
        if let backupEveryHours, !(1...8760).contains(backupEveryHours) {
            throw ValidationError("--backup-every-hours must be between 1 and 8760 (a year).")
        }
        guard (1...1000).contains(backupKeep) else { throw ValidationError("--backup-keep must be between 1 and 1000.") }
        if let backupRecipient {
            do {
                _ = try BackupRecipientKey.read(path: backupRecipient)
            } catch let error as BackupError {
                throw ValidationError("--backup-recipient: \(error.message)")
            }
        }
    }

    /// The schedule, with its directory made (0700) and checked writable; nil when none was asked for.
    func schedule() throws -> BackupSchedule? {
        guard let backupEveryHours, let backupRecipient, let backupDir else { return nil }
        let recipient: BackupRecipientKey
        do {
            recipient = try BackupRecipientKey.read(path: backupRecipient)
            try FileManager.default.createDirectory(atPath: backupDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ValidationError("--backup-dir \(backupDir) cannot be created: \(error)")
        }
        guard access(backupDir, W_OK) == 0 else { throw ValidationError("--backup-dir \(backupDir) is not writable.") }
        return BackupSchedule(
            interval: .seconds(backupEveryHours * 3600), recipient: recipient, directory: URL(fileURLWithPath: backupDir), keep: backupKeep)
    }
}
