import BedsideCore
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import ServiceLifecycle
import Synchronization

/// The reference server: TLS, the routes, and the services behind them.
public struct BedsideServer: Sendable {
    public let configuration: ServerConfiguration
    public let store: any ServerStore
    public let clock: any WallClock
    public let mailer: any Mailer
    public let logger: Logger
    /// Open connections per client address, for the cap in `ConnectionLimits`.
    let connectionCounter = ConnectionCounter()

    public init(
        configuration: ServerConfiguration, store: any ServerStore, clock: any WallClock = SystemClock(), mailer: (any Mailer)? = nil,
        logger: Logger = Logger(label: "bedside-server")
    ) {
        self.configuration = configuration
        self.store = store
        self.clock = clock
        self.logger = logger
        self.mailer = mailer ?? configuration.makeMailer()
    }

    /// The TLS settings: TLS 1.2 or newer only, with the configured or development certificate.
    public func tlsConfiguration() throws -> TLSConfiguration {
        let chainPath: String
        let keyPath: String
        switch configuration.tls {
        case .development:
            let authority = DevCertificateAuthority(directory: configuration.tlsDirectory)
            try authority.ensure()
            chainPath = authority.serverCertificatePath
            keyPath = authority.serverKeyPath
        case .files(let chain, let key):
            chainPath = chain
            keyPath = key
        }
        let certificates = try NIOSSLCertificate.fromPEMFile(chainPath)
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        // Wait briefly for a client's close_notify at shutdown; a vanished client must not hold us up.
        tls.shutdownTimeout = .seconds(1)
        return tls
    }

    func makeRoutes(auditRecorder: AuditRecorder) -> ServerRoutes {
        let auth = AuthService(
            store: store, clock: clock, mailer: mailer, hasher: configuration.hasher, policy: configuration.authPolicy, logger: logger)
        var fhir = FHIRService(store: store, clock: clock, auditRecorder: auditRecorder)
        fhir.invitations = Invitations(store: store, clock: clock, mailer: mailer, logger: logger)
        let limiter = configuration.rateLimit.flatMap { $0.isEnabled ? RateLimiter(limit: $0, clock: clock) : nil }
        let addressLimiter = configuration.unknownCallerRateLimit.isEnabled
            ? RateLimiter(limit: configuration.unknownCallerRateLimit, clock: clock) : nil
        return ServerRoutes(
            auth: auth, fhir: fhir, backend: BackendServices(store: store, clock: clock, auditRecorder: auditRecorder),
            exports: BulkExports(store: store, clock: clock, auditRecorder: auditRecorder, settings: configuration.bulkExport), clock: clock, publicBaseURL: configuration.publicBaseURL, rateLimiter: limiter,
            addresses: ClientAddressResolver(trustedProxies: configuration.trustedProxies), addressLimiter: addressLimiter, logger: logger)
    }

    /// The base of the fullUrls in Subscription notifications: the public URL, or where this server listens.
    @Sendable func notificationBaseURL(port: Int) -> String {
        if let base = configuration.publicBaseURL { return base.hasSuffix("/") ? String(base.dropLast()) + "/fhir" : base + "/fhir" }
        let host = ["0.0.0.0", "::", ""].contains(configuration.host) ? "localhost" : configuration.host
        return "https://\(host.contains(":") ? "[\(host)]" : host):\(port)/fhir"
    }

    /// Starts listening and returns once the port is bound.
    public func start() async throws -> RunningServer {
        let auditRecorder = AuditRecorder(store: store, logger: logger)
        let routes = makeRoutes(auditRecorder: auditRecorder)
        let router = routes.build()
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let limits = configuration.connectionLimits
        let counter = connectionCounter
        // The port is known once bound (0 picks one); Subscription notifications name it in fullUrl.
        let boundPort = BoundPort()
        let addresses = routes.addresses
        let logger = self.logger
        let http = HTTP1Channel.Configuration(
            additionalChannelHandlers: [
                ConnectionGuard(limits: limits, counter: counter, isExempt: { addresses.isTrustedProxy($0) }, logger: logger)
            ])
        let app = Application(
            router: router,
            server: try .tls(.http1(configuration: http), tlsConfiguration: tlsConfiguration()),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                boundPort.port.withLock { $0 = port }
                portContinuation.yield(port)
            },
            logger: logger)
        let store = self.store
        let clock = self.clock
        let exportWorker = routes.exports.worker
        let subscriptionSettings = configuration.subscriptions
        let notificationBaseURL = self.notificationBaseURL
        let backupSchedule = configuration.backups
        let dataDirectory = configuration.dataDirectory
        let retentionSchedule = configuration.retention
        let unusualActivity = UnusualActivityWatch(
            store: store, clock: clock, settings: configuration.unusualActivity, mailer: mailer, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger))
        let progress = ShutdownProgress()
        let task = Task {
            defer { portContinuation.finish() }
            let housekeeping = Task {
                while !Task.isCancelled {
                    // Each scheduled loop runs on one instance of those sharing a database (`leads`).
                    if await store.leads(.housekeeping) {
                        try? await store.write { db in try db.purgeExpired(before: clock.now()) }
                        // Overdue measurements and questionnaires are noticed by time passing, not by a request.
                        _ = try? await AlertScheduler(store: store, clock: clock).run()
                        _ = try? await SubscriptionDispatcher(store: store, clock: clock, settings: subscriptionSettings, baseURL: "").pruneFeed()
                    }
                    try? await Task.sleep(for: .seconds(300))
                }
            }
            // Bulk Data: exports the server stopped in the middle run again; expired files go, soon after.
            let exports = Task {
                await exportWorker.resume()
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(30))
                    await exportWorker.tick()
                }
            }
            let notifying = Task {
                guard let interval = subscriptionSettings.interval else { return }
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard !Task.isCancelled, let port = boundPort.port.withLock({ $0 }), await store.leads(.subscriptions) else { continue }
                    let dispatcher = SubscriptionDispatcher(
                        store: store, clock: clock, settings: subscriptionSettings, baseURL: notificationBaseURL(port))
                    do {
                        try await dispatcher.run()
                    } catch is CancellationError {
                        return
                    } catch {
                        logger.error("Subscription notifications failed: \(error)")
                    }
                }
            }
            // Scheduled backups copy the database on a thread of their own; a backup under way at stop
            // is abandoned (its partial file removed), never left half-written under its final name.
            let backups = Task {
                guard let schedule = backupSchedule else { return }
                await ScheduledBackups(schedule: schedule, dataDirectory: dataDirectory, logger: logger).run()
            }
            let retention = Task {
                guard let schedule = retentionSchedule else { return }
                await ScheduledRetention(schedule: schedule, store: store, clock: clock, logger: logger).run()
            }
            // Unusual activity: the audit trail looked at every minute, new alerts mailed to administrators.
            let watching = Task {
                while !Task.isCancelled {
                    do {
                        if await store.leads(.unusualActivity) { try await unusualActivity.run() }
                    } catch is CancellationError {
                        return
                    } catch {
                        logger.error("the unusual-activity rules could not run: \(error)")
                    }
                    try? await Task.sleep(for: unusualActivity.settings.interval)
                }
            }
            // The loops have ended before the server counts as stopped: the store may be closed right after.
            let loops = [
                ("housekeeping", housekeeping), ("subscription notifications", notifying), ("Bulk Data exports", exports),
                ("scheduled backups", backups), ("scheduled retention", retention), ("unusual activity", watching),
            ]
            do {
                try await group.run()
            } catch {
                await Self.end(loops, exportWorker: exportWorker, progress: progress, logger: logger)
                throw error
            }
            await Self.end(loops, exportWorker: exportWorker, progress: progress, logger: logger)
            progress.enter("the audit trail's last lines to be written")
            await auditRecorder.flush()
        }
        for await port in ports {
            return RunningServer(
                port: port, task: task, group: group, auditRecorder: auditRecorder, exportWorker: exportWorker, progress: progress, logger: logger)
        }
        try await task.value
        throw ServerStartError.didNotStart
    }
}

extension BedsideServer {
    /// Ends the background loops and the export in hand before the server counts as stopped.
    /// Cancelled, a loop ends at its next step. One stuck in a step (seen once on PostgreSQL: the Bulk
    /// Data loop, on a machine loaded by a benchmark) must not keep the server from stopping: after 15 s
    /// in all it is left behind with a warning, and the store's close then fails what it waits on. The
    /// export in hand gets 15 s of its own; what it leaves is put back by the next start.
    fileprivate static func end(
        _ loops: [(String, Task<Void, Never>)], exportWorker: ExportWorker, progress: ShutdownProgress, logger: Logger,
        waitingAtMost limit: Duration = .seconds(15)
    ) async {
        for (_, loop) in loops { loop.cancel() }
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        for (name, loop) in loops {
            progress.enter("the background loop \(name) to end")
            if await !waitForEnd(of: loop, atMost: max(.milliseconds(200), deadline - clock.now)) {
                logger.warning("a background loop did not end in time; stopping without it", metadata: ["loop": "\(name)"])
            }
        }
        progress.enter("the Bulk Data export in hand to stop")
        if await !waitForEnd(of: Task { await exportWorker.stop() }, atMost: limit) {
            logger.warning("the Bulk Data export in hand did not stop in time; stopping without it")
        }
    }
}

public enum ServerStartError: Error, CustomStringConvertible {
    case didNotStart

    public var description: String { "the server stopped before it was listening" }
}

/// A server that is listening; `stop()` shuts it down gracefully.
public struct RunningServer: Sendable {
    public let port: Int
    let task: Task<Void, any Error>
    let group: ServiceGroup
    let auditRecorder: AuditRecorder
    /// The Bulk Data worker, for tests that drive it rather than wait for its tick.
    let exportWorker: ExportWorker
    let progress: ShutdownProgress
    let logger: Logger

    /// Waits until the server stops (e.g. on a signal handled by the caller).
    public func wait() async throws {
        try await task.value
    }

    /// Stops accepting connections, lets requests in flight finish, then returns.
    /// While that takes long, a warning every 10 s names what it waits for.
    public func stop() async {
        let progress = progress
        await warningWhileSlow({ progress.current }, logger: logger) {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
            await auditRecorder.flush()
        }
    }

    /// Writes pending audit events now (tests read the audit table right after a request).
    public func flushAudit() async {
        await auditRecorder.flush()
    }
}

/// The port the server bound, once it has (0 asks the system for one).
final class BoundPort: Sendable {
    let port = Mutex<Int?>(nil)
}
