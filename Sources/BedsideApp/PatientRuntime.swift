import BedsideCore
import BedsideStore
import BedsideSync
import BedsideUI
import BedsideVault
import Foundation

/// The patient's app: the account on this computer (its vault, database and profile), logging in to
/// it, the data the screens show, sync, what needs attention, and questionnaires (in
/// `PatientRuntime+Questionnaires.swift`). `ClientCore` hands it the patient's effects.
///
/// It is the one owner of the unlocked vault and the open database; locking or logging out drops
/// both.
actor PatientRuntime {
    public let configuration: ClientConfiguration
    public let clock: any WallClock
    /// How requests reach the server: as configured, or, while an account is unlocked and the command
    /// line named no CA or pin, with the trust remembered at its login.
    var transport: HTTPTransport

    /// The unlocked account.
    struct Session {
        var vault: KeyVault
        var store: ClientStore
        var profile: Profile
    }

    /// What the sealed profile holds.
    struct Profile: Sendable {
        var server: String
        var email: String
        var displayName: String
        var token: String
        var patientID: String
        var role: String
        /// The CA certificates and pin given at login, used again by every later sync.
        var trust: ServerTrust?

        var json: JSONValue {
            var object: JSONObject = [
                "server": .string(server), "email": .string(email), "name": .string(displayName), "token": .string(token),
                "patient": .string(patientID), "role": .string(role),
            ]
            if let trust { object["trust"] = trust.json }
            return .object(object)
        }

        init(server: String, email: String, displayName: String, token: String, patientID: String, role: String, trust: ServerTrust? = nil) {
            self.server = server
            self.email = email
            self.displayName = displayName
            self.token = token
            self.patientID = patientID
            self.role = role
            self.trust = trust
        }

        init?(json: JSONValue) {
            guard let server = json["server"]?.stringValue, let email = json["email"]?.stringValue,
                let token = json["token"]?.stringValue, let patient = json["patient"]?.stringValue
            else { return nil }
            self.init(
                server: server, email: email, displayName: json["name"]?.stringValue ?? email, token: token, patientID: patient,
                role: json["role"]?.stringValue ?? "patient", trust: ServerTrust(json: json["trust"]))
        }

        var info: SessionInfo { SessionInfo(displayName: displayName, email: email, server: server) }
    }

    var session: Session?
    /// This process's claim on the data directory (one Bedside per directory).
    var directoryLock: DataDirectoryLock?

    public init(configuration: ClientConfiguration, clock: any WallClock) {
        self.configuration = configuration
        self.clock = clock
        self.transport = HTTPTransport(configuration: configuration.transport)
    }

    var isUnlocked: Bool { session != nil }

    /// Uses the account's remembered trust while it is unlocked (an explicit CA or pin wins), and the
    /// configured one otherwise.
    func trustServer(as profile: Profile?) {
        let wanted = profile?.trust.map { $0.applied(to: configuration.transport) } ?? configuration.transport
        guard wanted.caCertificates != transport.configuration.caCertificates
            || wanted.pinnedPublicKey != transport.configuration.pinnedPublicKey || wanted.caFile != transport.configuration.caFile
        else { return }
        transport.closeConnections()
        transport = HTTPTransport(configuration: wanted)
    }

    /// Claims the data directory for this process, or says which other process has it. Every command
    /// that opens the data directory calls this first; the claim lasts until the process ends or logs out.
    /// A directory Bedside did not make (one holding other files, without its marker) is refused untouched.
    func claimDataDirectory() throws(StoreError) {
        guard directoryLock == nil else { return }
        do {
            try OwnedDirectory.claim(configuration.dataDirectory)
        } catch {
            throw .vault(error)
        }
        directoryLock = try DataDirectoryLock.acquire(for: configuration.dataDirectory)
    }

    var t: Localizer { Localizer(configuration.language) }

    nonisolated func explain(_ error: APIError, step: ClientCore.Step = .session) -> String {
        ClientCore.explain(error, step: step, language: configuration.language)
    }

    /// The session token, for tests that check the server forgot it.
    var currentToken: String? { session?.profile.token }

    func api(_ server: String) -> BedsideAPI { BedsideAPI(server: server, transport: transport) }

    /// Performs one of the patient app's effects (`ClientCore` routes them here).
    func perform(_ effect: Effect, progress: @escaping @Sendable (Action) -> Void) async -> [Action] {
        switch effect {
        case .loadStatus: return loadStatus()
        case .save(let record): return storeChange { store in try store.add(record, now: self.clock.now()); return [.saved(record, edited: false)] }
        case .update(let record):
            return storeChange { store in try store.update(record, now: self.clock.now()); return [.saved(record, edited: true)] }
        case .delete(let id):
            return storeChange { store in [.deleted(id: id, removed: try store.delete(id: id, now: self.clock.now()))] }
        case .loadHistory(let kind, let after): return loadHistory(kind: kind, after: after)
        case .sync: return await sync(progress: progress)
        case .loadAttention: return loadAttention()
        case .resend(let id):
            return storeChange { store in try store.resend(id: id, now: self.clock.now()); return [.attention(.resent(id: id))] }
        case .discard(let id):
            return storeChange { store in try store.discardRejected(id: id, now: self.clock.now()); return [.attention(.discarded(id: id))] }
        case .openQuestionnaire(let taskID): return openQuestionnaire(taskID: taskID)
        case .saveDraft(let draft): return saveDraft(draft)
        case .submitResponse(let draft, let authored): return submitResponse(draft, authored: authored)
        case .export(let format, let path): return export(format: format, path: path)
        case .requestCode, .verifyCode, .enrol, .unlock, .lock, .logout, .quit, .loadAlerts, .triage, .loadAlertContext, .loadPatientOverview:
            // Login, locking and the kiosk are ClientCore's to route.
            return []
        }
    }

    // MARK: Login

    /// After the code step: the patient's session, a new account here or (when the server had ended the
    /// session) the same one with a new token.
    func start(grant: SessionGrant, server: String, email: String, password: String) async -> [Action] {
        let api = self.api(server)
        guard grant.role == "patient", let patientID = grant.patientID else {
            try? await api.logout(token: grant.accessToken)
            return [.loginFailed(t.text(.errorNotPatient))]
        }
        // Logging in again after the server ended the session: same account, new token, nothing else changes.
        if var current = session {
            guard current.profile.patientID == patientID, current.profile.server == server else {
                try? await api.logout(token: grant.accessToken)
                return [.loginFailed(t.text(.errorOtherAccount))]
            }
            current.profile.token = grant.accessToken
            do {
                // Options given to this login replace the remembered trust; none given keeps it.
                if let trust = try ServerTrust(capturing: configuration.transport) { current.profile.trust = trust }
                try current.store.saveProfile(current.profile.json)
            } catch let error as ServerTrustError {
                return [.loginFailed(error.description)]
            } catch let error as StoreError {
                return [.loginFailed(error.description)]
            } catch {
                return [.loginFailed("\(error)")]
            }
            session = current
            return [.attention(.reauthenticated)]
        }
        var name = email
        if let patient = try? await api.read("Patient", id: patientID, token: grant.accessToken),
            let text = patient["name"]?.arrayValue?.first?["text"]?.stringValue
        {
            name = text
        }
        do {
            // Claimed again if a logout in this process gave the directory up.
            try claimDataDirectory()
            // A new login replaces a previous account's leftovers here (destroyed, not merged); only Bedside's own
            // files are touched, and this process keeps its claim.
            try OwnedDirectory.destroyContents(configuration.dataDirectory, keepingClaim: true)
            let (vault, wrapped) = try KeyVault.create(password: password, parameters: configuration.kdf)
            try SecureFiles.writePrivate(try wrapped.encoded(), to: configuration.keyFile)
            let store = try ClientStore(directory: configuration.dataDirectory, vault: vault)
            let profile = Profile(
                server: server, email: email, displayName: name, token: grant.accessToken, patientID: patientID,
                role: grant.role, trust: try ServerTrust(capturing: configuration.transport))
            try store.saveProfile(profile.json)
            session = Session(vault: vault, store: store, profile: profile)
            // Bring down what the server already has (history from before this device, a nurse's entries).
            let engine = SyncEngine(api: api, store: store, token: grant.accessToken, clock: clock)
            _ = await engine.pull(patientID: patientID)
            return [.loggedIn(profile.info)]
        } catch let error as VaultError {
            return [.loginFailed(error.description)]
        } catch let error as StoreError {
            return [.loginFailed(error.description)]
        } catch let error as ServerTrustError {
            return [.loginFailed(error.description)]
        } catch {
            return [.loginFailed("\(error)")]
        }
    }

    // MARK: Unlock and lock

    func unlock(password: String) -> [Action] {
        do {
            guard let data = FileManager.default.contents(atPath: configuration.keyFile.path) else {
                return [.unlockFailed(t.text(.errorNoAccount))]
            }
            let vault = try KeyVault.unlock(try WrappedKey.decode(data), password: password)
            let store = try ClientStore(directory: configuration.dataDirectory, vault: vault)
            guard let profile = try store.profile().flatMap(Profile.init(json:)) else {
                return [.unlockFailed(t.text(.errorAccountIncomplete))]
            }
            session = Session(vault: vault, store: store, profile: profile)
            trustServer(as: profile)
            return [.unlocked(profile.info)]
        } catch VaultError.wrongPassword {
            return [.unlockFailed(t.text(.unlockWrong))]
        } catch let error as VaultError {
            return [.unlockFailed(error.description)]
        } catch let error as StoreError {
            return [.unlockFailed(error.description)]
        } catch {
            return [.unlockFailed("\(error)")]
        }
    }

    /// Drops the data key and closes the database.
    func lock() {
        session?.store.close()
        session?.vault.lock()
        session = nil
        trustServer(as: nil)
    }

    // MARK: Data

    private func storeChange(_ change: (ClientStore) throws -> [Action]) -> [Action] {
        guard let session else { return [.failed(VaultError.locked.description)] }
        do {
            return try change(session.store)
        } catch let error as StoreError {
            return [.saveFailed(error.description)]
        } catch {
            return [.saveFailed("\(error)")]
        }
    }

    func status() throws -> HomeStatus {
        guard let store = session?.store else { return HomeStatus() }
        var latest: [MeasurementKind: MeasurementRecord] = [:]
        for kind in MeasurementKind.allCases {
            if let record = try store.measurements(kind: kind, limit: 1).first { latest[kind] = record }
        }
        return HomeStatus(
            latest: latest, unsent: try store.unsentCount(), rejected: try store.rejectedCount(),
            lastSync: try store.setting("lastSync").flatMap { Int64($0) }, clockOffset: try store.setting("clockOffset").flatMap { Int64($0) },
            assignments: try assignments(in: store))
    }

    func loadStatus() -> [Action] {
        do {
            return [.statusLoaded(try status())]
        } catch {
            return [.failed("\(error)")]
        }
    }

    func loadHistory(kind: MeasurementKind, after: HistoryPosition?) -> [Action] {
        guard let store = session?.store else { return [] }
        do {
            let cursor = after.map { HistoryCursor(effectiveAt: $0.effectiveAt, id: $0.id) }
            let page = try store.measurements(kind: kind, after: cursor, limit: 100)
            // Counting a kind is the slow part with years of data: done once, on the first page.
            let total = after == nil ? try store.count(kind: kind) : nil
            return [.historyLoaded(kind: kind, page: page, total: total, appended: after != nil)]
        } catch {
            return [.failed("\(error)")]
        }
    }

    // MARK: Sync and logout

    /// Pushes the outbox and pulls, telling the UI how far it is.
    func sync(progress: @escaping @Sendable (Action) -> Void = { _ in }) async -> [Action] {
        guard session != nil else { return [.syncFinished(SyncOutcome(failure: .other, message: VaultError.locked.description))] }
        let report = await runSync { phase in
            switch phase {
            case .sending(let done, let total): progress(.syncProgress(.sending(done: done, total: total)))
            case .receiving: progress(.syncProgress(.receiving))
            }
        }
        return [.syncFinished(outcome(of: report))]
    }

    /// How a sync report reads to the reducer: what kind of failure (it decides about retrying) and the words.
    nonisolated func outcome(of report: SyncReport) -> SyncOutcome {
        var outcome = SyncOutcome(sent: report.sent, rejected: report.rejected, received: report.received)
        guard let error = report.error else { return outcome }
        outcome.message = explain(error)
        if error.isOffline {
            outcome.failure = .offline
        } else if error.endsSession {
            outcome.failure = .sessionEnded
        } else if error.isServerBusy {
            outcome.failure = .serverBusy(retryAfterSeconds: error.retryAfter)
        } else {
            outcome.failure = .other
        }
        return outcome
    }

    func loadAttention() -> [Action] {
        guard let store = session?.store else { return [] }
        do {
            let items = try store.rejectedItems(limit: 500).map {
                AttentionItem(record: $0.record, reason: $0.reason, isWithdrawal: $0.operation == .withdraw)
            } + store.refusedResponses(limit: 500).map {
                AttentionItem(responseID: $0.response.id, title: $0.response.payload["title"]?.stringValue ?? "", reason: $0.reason)
            }
            return [.attention(.loaded(items))]
        } catch {
            return [.failed(error.description)]
        }
    }

    /// Revokes the session on the server, then destroys every local file of the account.
    func logout() async -> [Action] {
        var serverMessage: String?
        if let session {
            do {
                try await api(session.profile.server).logout(token: session.profile.token)
            } catch {
                serverMessage = error.description
            }
        }
        lock()
        transport.closeConnections()
        do {
            // The wrapped key first, then the database and the rest of Bedside's files; nothing else here.
            try OwnedDirectory.destroyContents(configuration.dataDirectory)
        } catch {
            return [.logoutFailed(error.description)]
        }
        // The lock file went with the rest (a logged-out directory is empty); the claim goes with it.
        directoryLock = nil
        _ = serverMessage  // The local data is gone either way; the server session expires on its own if it was not reached.
        return [.loggedOut]
    }
}

/// What `bedside status` prints.
public struct StatusReport: Sendable {
    public var name: String
    public var email: String
    public var server: String
    public var total: Int
    public var unsent: Int
    public var rejected: Int
    public var lastSync: Int64?
    /// The server's clock minus this computer's, in milliseconds, as last seen.
    public var clockOffset: Int64?
    /// Questionnaire assignments brought down and kept for offline use.
    public var assignments: Int
    public var dataDirectory: String

    public var json: JSONValue {
        var object: JSONObject = [
            "name": .string(name), "email": .string(email), "server": .string(server), "measurements": .number(total),
            "unsent": .number(unsent), "rejected": .number(rejected), "dataDirectory": .string(dataDirectory),
        ]
        object["lastSync"] = lastSync.map { .string(FHIRDateTime.format(epochMilliseconds: $0)) } ?? .null
        object["clockOffsetSeconds"] = clockOffset.map { .number(Int($0 / 1000)) } ?? .null
        object["assignments"] = .number(assignments)
        return .object(object)
    }
}

extension PatientRuntime {
    func statusReport() throws -> StatusReport {
        guard let session else { throw VaultError.locked }
        let status = try status()
        return StatusReport(
            name: session.profile.displayName, email: session.profile.email, server: session.profile.server,
            total: try session.store.count(kind: nil), unsent: status.unsent, rejected: status.rejected, lastSync: status.lastSync,
            clockOffset: status.clockOffset, assignments: try session.store.cachedVersions(type: "Task").count,
            dataDirectory: configuration.dataDirectory.path)
    }

    /// Pushes and pulls now; what happened.
    func runSync(progress: SyncEngine.ProgressHandler? = nil) async -> SyncReport {
        guard let session else {
            var report = SyncReport()
            report.error = .invalidResponse(VaultError.locked.description)
            return report
        }
        let engine = SyncEngine(api: api(session.profile.server), store: session.store, token: session.profile.token, clock: clock)
        return await engine.run(patientID: session.profile.patientID, progress: progress)
    }

    /// Saves a measurement; the store's error message when it cannot.
    func add(_ record: MeasurementRecord) throws {
        guard let session else { throw VaultError.locked }
        try session.store.add(record, now: clock.now())
    }

    func measurements(kind: MeasurementKind?, limit: Int) throws -> [MeasurementRecord] {
        guard let session else { throw VaultError.locked }
        return try session.store.measurements(kind: kind, limit: limit)
    }

    /// Everything of the patient's this device holds, for `bedside export`: measurements oldest first,
    /// and the finished questionnaire responses.
    func exportData() throws -> PatientExportData {
        guard let session else { throw VaultError.locked }
        var measurements: [MeasurementRecord] = []
        var cursor: HistoryCursor?
        while true {
            let page = try session.store.measurements(kind: nil, after: cursor, limit: 5_000)
            measurements += page
            guard page.count == 5_000, let last = page.last else { break }
            cursor = HistoryCursor(after: last)
        }
        let responses = try session.store.finishedResponses().compactMap { $0.payload["response"] }
        return PatientExportData(
            patientID: session.profile.patientID, server: session.profile.server, measurements: measurements.reversed(), responses: responses)
    }

    /// The session's way to everything the server holds of the patient (`bedside export --from-server`).
    func serverExport() throws -> ServerExport {
        guard let session else { throw VaultError.locked }
        return ServerExport(api: api(session.profile.server), token: session.profile.token, patientID: session.profile.patientID)
    }

    /// The app's export: this computer's data to a new private file (`~/` is the home directory), written
    /// as `bedside export` writes it.
    func export(format: PatientDataExport.Format, path: String) -> [Action] {
        let full = Self.expandingHome(path)
        do {
            let data = try exportData()
            let file = try ExportFile(creating: full)
            try PatientExportWriter.write(data, format: format, to: file, now: clock.now())
            try file.commit()
            return [.exported(path: full, count: data.measurements.count)]
        } catch let error as ExportFileError {
            return [.exportFailed(error.text(t))]
        } catch {
            // The store's and the vault's errors describe themselves in words.
            return [.exportFailed("\(error)")]
        }
    }

    /// `~/x` as `$HOME/x`; anything else as it is.
    nonisolated static func expandingHome(_ path: String, home: String? = ProcessInfo.processInfo.environment["HOME"]) -> String {
        guard path == "~" || path.hasPrefix("~/"), let home, !home.isEmpty else { return path }
        return home + path.dropFirst()
    }
}
