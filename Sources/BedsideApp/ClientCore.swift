import BedsideCore
import BedsideStore
import BedsideSync
import BedsideUI
import BedsideVault
import Foundation

/// Runs the UI's effects and answers with actions: the one effect runner the event loop (terminal and
/// scripts alike) and the command line use.
///
/// It logs in (password, then the e-mailed code) and hands the rest to the runtime of the mode it
/// runs in: the patient's app (`PatientRuntime`: the account on this computer, sync, questionnaires)
/// or the clinician kiosk (`KioskRuntime`: a session in memory only).
public actor ClientCore {
    public let configuration: ClientConfiguration
    public let clock: any WallClock
    /// The patient's app.
    let patient: PatientRuntime
    /// The clinician kiosk (`bedside --kiosk`), its session in memory only.
    let kiosk: KioskRuntime

    /// Between the password step and the code step of a login.
    struct PendingLogin {
        var server: String
        var email: String
        var password: String
        var challenge: String
    }

    var pending: PendingLogin?

    public init(configuration: ClientConfiguration, clock: any WallClock) {
        self.configuration = configuration
        self.clock = clock
        patient = PatientRuntime(configuration: configuration, clock: clock)
        kiosk = KioskRuntime(configuration: configuration, clock: clock, transport: HTTPTransport(configuration: configuration.transport))
    }

    var t: Localizer { Localizer(configuration.language) }

    /// What a patient reads for a failed request, in their language. The server's own words are passed on
    /// only when nothing better is known.
    public enum Step: Sendable { case password, code, session, enrolment }

    public nonisolated func explain(_ error: APIError, step: Step = .session) -> String {
        Self.explain(error, step: step, language: configuration.language)
    }

    static func explain(_ error: APIError, step: Step, language: Language) -> String {
        let t = Localizer(language)
        switch error {
        case .transport(let transport):
            switch transport {
            case .unreachable: return t.text(.errorUnreachable)
            case .timedOut: return t.text(.errorTimedOut)
            case .untrustedServer(let detail): return t.text(.errorUntrusted, detail)
            case .insecureURL(let detail): return t.text(.errorInsecure, detail)
            case .failed(let detail): return t.text(.errorServerSaid, detail)
            case .responseTooLarge(let limit): return t.text(.errorResponseTooLarge, TransportError.size(limit))
            case .headersTooLarge(let limit): return t.text(.errorHeadersTooLarge, TransportError.size(limit))
            }
        case .refused(let status, let code, let message, let retryAfter):
            if status == 423 {
                // Clamped again here: an APIError may be made elsewhere than from a header.
                let seconds = min(max(retryAfter ?? 900, 0), RetryAfter.maximumSeconds)
                return t.text(.errorLocked, String(max(1, (seconds + 59) / 60)))
            }
            if step == .enrolment {
                // 401: the code; 422 (business-rule): the password; by status and stable code only.
                if status == 401 { return t.text(.errorEnrolmentCode) }
                if status == 422 { return t.text(.errorWeakPassword) }
            }
            if status == 401 && step == .code {
                // By the stable issue code, never by the server's English words.
                return code == "expired" ? t.text(.errorCodeExpired) : t.text(.errorCodeWrong)
            }
            if status == 401 { return t.text(step == .password ? .errorWrongCredentials : .errorSessionEnded) }
            return t.text(.errorServerSaid, message)
        case .invalidResponse(let detail):
            return t.text(.errorServerSaid, detail)
        }
    }

    // MARK: Effects

    /// Performs one effect; the actions it returns go back into the reducer. Long effects (sync) also
    /// report progress through `progress` while they run.
    public func perform(_ effect: Effect, progress: @escaping @Sendable (Action) -> Void = { _ in }) async -> [Action] {
        switch effect {
        case .requestCode(let server, let email, let password): return await requestCode(server: server, email: email, password: password)
        case .verifyCode(let code): return await verifyCode(code)
        case .enrol(let server, let email, let code, let password): return await enrol(server: server, email: email, code: code, password: password)
        case .unlock(let password): return configuration.kiosk ? await kiosk.unlock(password: password) : await patient.unlock(password: password)
        case .lock:
            await lock()
            return []
        case .logout: return await logout()
        case .quit:
            await lock()
            return []
        case .loadStatus, .save, .update, .delete, .loadHistory, .sync, .loadAttention, .resend, .discard, .openQuestionnaire,
            .saveDraft, .submitResponse, .export:
            return await patient.perform(effect, progress: progress)
        case .loadAlerts(let cursor): return await kiosk.loadAlerts(after: cursor)
        case .triage(let decision): return await kiosk.triage(decision)
        case .loadAlertContext(let patientID, let code): return await kiosk.loadAlertContext(patientID: patientID, code: code)
        case .loadPatientOverview(let patientID): return await kiosk.loadPatientOverview(patientID: patientID)
        }
    }

    // MARK: Login, lock, logout

    /// The server's API as the mode's runtime reaches it (the patient's remembered trust, or the kiosk's).
    private func api(_ server: String) async -> BedsideAPI {
        configuration.kiosk ? await kiosk.api(server) : await patient.api(server)
    }

    func requestCode(server: String, email: String, password: String) async -> [Action] {
        do {
            let challenge = try await api(server).requestCode(email: email, password: password, language: configuration.language.rawValue)
            pending = PendingLogin(server: server, email: email, password: password, challenge: challenge)
            return [.codeRequested]
        } catch {
            return [.loginFailed(explain(error, step: .password))]
        }
    }

    func verifyCode(_ code: String) async -> [Action] {
        guard let pending else { return [.loginFailed(t.text(.errorLoginAgain))] }
        let grant: SessionGrant
        do {
            grant = try await api(pending.server).verifyCode(challenge: pending.challenge, code: code)
        } catch {
            if case .refused(_, "expired", _, _) = error {
                self.pending = nil
            }
            return [.loginFailed(explain(error, step: .code))]
        }
        self.pending = nil
        if configuration.kiosk {
            return await kiosk.start(grant: grant, server: pending.server, email: pending.email, password: pending.password)
        }
        return await patient.start(grant: grant, server: pending.server, email: pending.email, password: pending.password)
    }

    /// An invited patient sets their password with the e-mailed enrolment code and is logged in, as after
    /// the code step of a login (the code proved the address, as the login code does).
    func enrol(server: String, email: String, code: String, password: String) async -> [Action] {
        pending = nil
        let grant: SessionGrant
        do {
            grant = try await api(server).enrol(email: email, code: code, password: password)
        } catch {
            return [.loginFailed(explain(error, step: .enrolment))]
        }
        guard grant.role == "patient" else { return [.loginFailed(t.text(.errorServerSaid, "not a patient's account"))] }
        return await patient.start(grant: grant, server: server, email: email, password: password)
    }

    /// Drops every key and token in clear, the patient's and the kiosk's.
    public func lock() async {
        await kiosk.lock()
        await patient.lock()
        pending = nil
    }

    /// Ends the session on the server; the patient's app also destroys every local file of the account.
    public func logout() async -> [Action] {
        pending = nil
        if configuration.kiosk {
            // The kiosk wrote nothing: ending the session on the server and forgetting it is all.
            await kiosk.logout()
            return [.loggedOut]
        }
        return await patient.logout()
    }

    // MARK: The patient's account, for the command line

    public var isUnlocked: Bool {
        get async { await patient.isUnlocked }
    }

    /// Claims the data directory for this process, or says which other process has it (see `PatientRuntime`).
    public func claimDataDirectory() async throws(StoreError) {
        try await patient.claimDataDirectory()
    }

    /// Pushes the outbox and pulls, telling the UI how far it is.
    public func sync(progress: @escaping @Sendable (Action) -> Void = { _ in }) async -> [Action] {
        await patient.sync(progress: progress)
    }

    public func statusReport() async throws -> StatusReport {
        try await patient.statusReport()
    }

    /// Pushes and pulls now; what happened.
    public func runSync(progress: SyncEngine.ProgressHandler? = nil) async -> SyncReport {
        await patient.runSync(progress: progress)
    }

    /// Saves a measurement; the store's error message when it cannot.
    public func add(_ record: MeasurementRecord) async throws {
        try await patient.add(record)
    }

    public func measurements(kind: MeasurementKind?, limit: Int) async throws -> [MeasurementRecord] {
        try await patient.measurements(kind: kind, limit: limit)
    }

    /// What `bedside export` writes: the patient's id and server, measurements oldest first, finished responses.
    public func exportData() async throws -> PatientExportData {
        try await patient.exportData()
    }

    /// The session's way to everything the server holds of the patient (`bedside export --from-server`).
    public func serverExport() async throws -> ServerExport {
        try await patient.serverExport()
    }

    /// The patient's session token, for tests that check the server forgot it.
    var currentToken: String? {
        get async { await patient.currentToken }
    }
}
