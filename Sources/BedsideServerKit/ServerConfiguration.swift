import Foundation

/// Everything `bedside-server serve` can be told.
public struct ServerConfiguration: Sendable {
    public enum TLSSource: Sendable {
        /// A local CA and server certificate kept in `<data-dir>/tls/`, made at first start.
        case development
        /// Real certificate chain and key files (PEM).
        case files(certificateChain: String, privateKey: String)
    }

    public enum MailTransport: Sendable {
        /// Each mail becomes a file in `<data-dir>/mail/new/`.
        case maildir
        /// A real relay, e.g. `smtps://smtp.example.org:465` or `smtp://relay:587` (STARTTLS required).
        case smtp(SMTPSettings)
    }

    public var dataDirectory: URL
    /// Loopback by default; a deployment puts a name or 0.0.0.0 here deliberately.
    public var host: String = "127.0.0.1"
    /// 0 picks a free port.
    public var port: Int = 8443
    public var tls: TLSSource = .development
    public var mail: MailTransport = .maildir
    /// The external URL clients use, when behind a proxy; otherwise taken from the Host header.
    public var publicBaseURL: String?
    public var hasher: PasswordHasher = .standard
    public var authPolicy = AuthPolicy()
    /// How long a write waits for the database before the request fails with 500.
    public var databaseBusyTimeoutSeconds: Double = 10
    /// A request budget per session (per address before login), answered with 429 and Retry-After
    /// when used up. nil: no limit.
    public var rateLimit: RateLimit?
    /// A budget per address for requests of callers not (yet) known: no token, an invented one, the
    /// login endpoints. On by default, so refusals cannot be had in bulk for free.
    public var unknownCallerRateLimit = RateLimit(requests: 120, windowSeconds: 60)
    /// Deadlines for slow or silent clients and a cap of connections per address.
    public var connectionLimits = ConnectionLimits()
    /// Reverse proxies whose `X-Forwarded-For` names the real client (`--trusted-proxy`).
    public var trustedProxies: [AddressRange] = []
    /// Subscription deliveries: how often, retries, and the CA trusted for endpoints (`--outbound-ca-file`).
    public var subscriptions = SubscriptionSettings()
    /// Bulk Data exports: where their files go and how long they stay (`--export-retention-minutes`).
    public var bulkExport: BulkExportSettings
    /// `--master-key-file`: the key that wraps the database's data key; nil: `<data-dir>/master.key`.
    public var masterKeyPath: String?
    /// `--database postgresql://…` (or `BEDSIDE_DATABASE_URL`): the data in PostgreSQL, shared by every
    /// instance given the same URL and master key; nil: SQLite in the data directory.
    public var database: PostgresLocation?
    /// Resource bodies and personal fields in clear: only for `bedside-bench server`'s baseline.
    public var storesPlaintextForBenchmark = false
    /// Encrypted backups the server writes on its own (`--backup-every-hours`); nil: none.
    public var backups: BackupSchedule?
    /// Patients' data handed over and erased a number of years after their care ended (`--retention-years`); nil: never.
    public var retention: RetentionSchedule?
    /// The thresholds of the rules that alert administrators to unusual activity (`UnusualActivity`).
    public var unusualActivity = UnusualActivitySettings()

    /// Files of Bulk Data exports, one directory per job.
    public var exportsDirectory: URL { dataDirectory.appendingPathComponent("exports") }

    public init(dataDirectory: URL) {
        self.dataDirectory = dataDirectory
        self.bulkExport = BulkExportSettings(directory: dataDirectory.appendingPathComponent("exports"))
    }

    public var databasePath: String { dataDirectory.appendingPathComponent("bedside-server.sqlite").path }
    public var tlsDirectory: URL { dataDirectory.appendingPathComponent("tls") }
    public var mailDirectory: URL { dataDirectory.appendingPathComponent("mail") }

    /// `$XDG_DATA_HOME/bedside-server`, or `~/.local/share/bedside-server`.
    public static func defaultDataDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("bedside-server")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".local/share/bedside-server")
    }

    /// The store this configuration names: PostgreSQL with `database`, else SQLite in the data directory.
    /// The data directory is made either way (TLS material, mail, export files live there).
    public func openServerStore() async throws -> any ServerStore {
        guard let database else { return try openStore() }
        try prepareDataDirectory()
        let makesKey = !masterKeyFile.exists
        let store = try await PostgresServerStore(location: database, encryption: encryption)
        announceNewMasterKey(ifMade: makesKey)
        return store
    }

    /// Creates the data directory private to this user (0700) and opens the store in it.
    public func openStore() throws -> SQLiteServerStore {
        try prepareDataDirectory()
        let makesKey = !masterKeyFile.exists
        let store = try SQLiteServerStore(path: databasePath, encryption: encryption, busyTimeoutSeconds: databaseBusyTimeoutSeconds)
        announceNewMasterKey(ifMade: makesKey)
        return store
    }

    /// The data directory, 0700, and everything made in it private to this user.
    private func prepareDataDirectory() throws {
        umask(0o077)
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// Says so on stderr when opening the store made the master key: it must be kept.
    private func announceNewMasterKey(ifMade makesKey: Bool) {
        guard makesKey, masterKeyFile.exists, case .masterKey = encryption else { return }
        FileHandle.standardError.write(Data("""
            bedside-server: made a new master key in \(masterKeyFile.path) (0600). It unlocks every record in this database: \
            keep a copy somewhere safe, and in production keep it outside the data directory (--master-key-file); \
            without it the data cannot be read.

            """.utf8))
    }

    /// The master key's file: `--master-key-file`, or `master.key` in the data directory.
    public var masterKeyFile: MasterKeyFile {
        MasterKeyFile(path: masterKeyPath ?? dataDirectory.appendingPathComponent("master.key").path)
    }

    var encryption: StoreEncryption {
        storesPlaintextForBenchmark ? .plaintextBodiesForBenchmark : .masterKey(masterKeyFile)
    }
}

extension ServerConfiguration {
    /// Without the default budgets for logins and unknown callers: for benchmarks and tests that measure
    /// throughput from one loopback address, not the budgets themselves (the abuse benchmark keeps them).
    /// The mailer `mail` names: files in `mailDirectory`, or the SMTP relay.
    public func makeMailer() -> any Mailer {
        switch mail {
        case .maildir: MaildirMailer(directory: mailDirectory)
        case .smtp(let settings): SMTPMailer(settings: settings)
        }
    }

    public mutating func withoutDefaultBudgets() {
        unknownCallerRateLimit = RateLimit(requests: 0)
        authPolicy.loginsPerAddress = RateLimit(requests: 0)
        authPolicy.loginsPerAccount = RateLimit(requests: 0)
    }
}
