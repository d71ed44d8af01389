import BedsideCore
import BedsideSync
import BedsideUI
import BedsideVault
import Foundation

/// The clinician kiosk's session. Nothing of it is ever written to disk: the shared terminal keeps the
/// data directory empty. While locked, only the session token sealed under a key wrapped with the
/// clinician's password remains in memory, so unlocking needs the password and no one else can use it;
/// patient names and alerts are dropped and fetched again.
struct KioskSession {
    var server: String
    var email: String
    var displayName: String
    /// In clear only while unlocked.
    var token: String?
    var wrappedKey: WrappedKey
    var sealedToken: [UInt8]
    /// The clinician's own Practitioner id, to know which patients they are responsible for.
    var practitionerID: String?
    /// What the kiosk knows of the alerts' patients, while unlocked.
    var patients = PatientLabels()

    var info: SessionInfo { SessionInfo(displayName: displayName, email: email, server: server) }
}

/// The alerts' patients as the queue shows them: names, how to reach them, and those the nurse is
/// responsible for.
struct PatientLabels {
    var names: [String: String] = [:]
    var contacts: [String: PatientContact] = [:]
    var mine: Set<String> = []
}

/// The clinician kiosk as its own runtime (`bedside --kiosk`): the session in memory, the alert queue,
/// triage and a patient's context, turned into the UI's actions. `ClientCore` hands it the kiosk's
/// effects; its questions to the server are `KioskQueries`.
actor KioskRuntime {
    private let configuration: ClientConfiguration
    private let clock: any WallClock
    private let transport: HTTPTransport
    /// The session, while a clinician is logged in.
    private(set) var session: KioskSession?
    /// Counts locks and logouts: work that began before one must not put what it read back into the
    /// session (an actor runs other calls while one waits on the network).
    private var epoch = 0

    init(configuration: ClientConfiguration, clock: any WallClock, transport: HTTPTransport) {
        self.configuration = configuration
        self.clock = clock
        self.transport = transport
    }

    private var t: Localizer { Localizer(configuration.language) }

    private func explain(_ error: APIError) -> String { ClientCore.explain(error, step: .session, language: configuration.language) }

    func api(_ server: String) -> BedsideAPI { BedsideAPI(server: server, transport: transport) }

    /// The server's questions for the unlocked session; nil while locked.
    private var queries: KioskQueries? {
        guard let session, let token = session.token else { return nil }
        return KioskQueries(api: api(session.server), token: token)
    }

    static let sealContext = (table: "kiosk", row: "session", column: "token")

    // MARK: Session

    /// After the code step in kiosk mode: a clinician's session, in memory only.
    func start(grant: SessionGrant, server: String, email: String, password: String) async -> [Action] {
        guard grant.role == "clinician" else {
            try? await api(server).logout(token: grant.accessToken)
            return [.loginFailed(t.text(.kioskWrongRole))]
        }
        do {
            let (vault, wrapped) = try KeyVault.create(password: password, parameters: configuration.kdf)
            defer { vault.lock() }
            let context = Self.sealContext
            let sealed = try vault.seal(grant.accessToken, table: context.table, rowID: context.row, column: context.column)
            var name = email
            if let practitioner = grant.practitionerID,
                let resource = try? await api(server).read("Practitioner", id: practitioner, token: grant.accessToken),
                let text = resource["name"]?.arrayValue?.first?["text"]?.stringValue
            {
                name = text
            }
            session = KioskSession(
                server: server, email: email, displayName: name, token: grant.accessToken, wrappedKey: wrapped, sealedToken: sealed,
                practitionerID: grant.practitionerID)
            return [.loggedIn(SessionInfo(displayName: name, email: email, server: server))]
        } catch {
            return [.loginFailed(error.description)]
        }
    }

    func unlock(password: String) -> [Action] {
        guard var current = session else { return [.unlockFailed(t.text(.errorLoginAgain))] }
        do {
            let vault = try KeyVault.unlock(current.wrappedKey, password: password)
            defer { vault.lock() }
            let context = Self.sealContext
            current.token = try vault.openString(current.sealedToken, table: context.table, rowID: context.row, column: context.column)
            session = current
            return [.unlocked(current.info)]
        } catch VaultError.wrongPassword {
            return [.unlockFailed(t.text(.unlockWrong))]
        } catch {
            return [.unlockFailed(error.description)]
        }
    }

    /// Locked: the token in clear and every patient's name and number go; the sealed token stays for unlocking.
    func lock() {
        epoch += 1
        session?.token = nil
        session?.patients = PatientLabels()
    }

    /// Whether the session is still the unlocked one of `epoch`: what a request read may be kept.
    private func stillUnlocked(since started: Int) -> Bool {
        epoch == started && session?.token != nil
    }

    /// Ends the session on the server and forgets it: the kiosk wrote nothing, so that is all.
    func logout() async {
        epoch += 1
        let current = session
        session = nil
        if let current, let token = current.token { try? await api(current.server).logout(token: token) }
        transport.closeConnections()
    }

    // MARK: The queue

    /// How far back the handled alerts reach in a full load (the `v` view "handled").
    static let handledAlertsDays: Int64 = 7

    /// The queue: in full without a cursor (the open alerts and those handled in the last week), else
    /// only the Flags changed since it, asked with If-None-Match so that a quiet ward costs a 304.
    func loadAlerts(after cursor: QueueCursor?) async -> [Action] {
        guard let queries else { return [.kiosk(.alertsFailed(VaultError.locked.description))] }
        let started = epoch
        do {
            guard let cursor else {
                let week = FHIRDateTime.format(epochMilliseconds: clock.now() - Self.handledAlertsDays * 86_400_000)
                // The patients come along with their alerts (`_include`): one round trip each, no batch after.
                let open = try await queries.flags("/fhir/Flag?status=active&_count=1000&_include=Flag:patient")
                let handled = try await queries.flags("/fhir/Flag?status=inactive&_lastUpdated=ge\(week)&_count=1000&_include=Flag:patient")
                let flags = open.flags + handled.flags
                // A fresh start: who the patients are, and who is responsible for them, is read again.
                if stillUnlocked(since: started) { session?.patients = PatientLabels() }
                let patients = await patientLabels(
                    for: flags, queries: queries, since: started, included: open.patients.merging(handled.patients) { first, _ in first })
                // Both searches may hold one Flag (handled between them): the queue keeps its newest version.
                return [.kiosk(.alertsLoaded(
                    flags.compactMap { Self.alert(from: $0, patients: patients) }, cursor: QueueCursor.start(answeredAt: open.answeredAt ?? clock.now())))]
            }
            let since = FHIRDateTime.format(epochMilliseconds: cursor.since)
            let path = "/fhir/Flag?_lastUpdated=ge\(since)&_sort=_lastUpdated&_count=1000"
            let response = try await queries.firstPage(path, ifNoneMatch: cursor.etag)
            if response.status == 304 { return [.kiosk(.alertsUnchanged)] }
            let changes = try await queries.flags(path, first: response)
            let patients = await patientLabels(for: changes.flags, queries: queries, since: started)
            // A tag is only worth keeping for a one-page answer: it says nothing of the other pages.
            let next = cursor.advanced(
                answeredAt: changes.answeredAt ?? clock.now(),
                changedAt: changes.flags.compactMap(\.lastUpdatedMilliseconds),
                etag: changes.pages == 1 ? response.header("etag") : nil)
            return [.kiosk(.alertsChanged(changes.flags.compactMap { Self.alert(from: $0, patients: patients) }, cursor: next))]
        } catch {
            return [.kiosk(.alertsFailed(explain(error)))]
        }
    }

    /// The flags' patients: those not known yet are read, for their names, how to reach them, and
    /// whether this nurse is named responsible for them (`generalPractitioner`).
    /// They are kept in the session only if it was not locked meanwhile (`since` is the epoch the
    /// request began in); the answer, too, is then dropped by the reducer, which shows nothing locked.
    /// `included` are Patients the search already brought; only those still missing are read.
    private func patientLabels(
        for flags: [JSONValue], queries: KioskQueries, since started: Int, included: [String: JSONValue] = [:]
    ) async -> PatientLabels {
        var labels = session?.patients ?? PatientLabels()
        let needed = Set(flags.compactMap(Self.patientID(of:))).subtracting(labels.names.keys)
        guard !needed.isEmpty else { return labels }
        let me = session?.practitionerID.map { "Practitioner/\($0)" }
        let brought = needed.sorted().compactMap { id in included[id].map { (id: id, patient: $0) } }
        let missing = needed.subtracting(brought.map(\.id)).sorted()
        for (id, patient) in await brought + queries.patients(missing) {
            if let text = patient["name"]?.arrayValue?.first?["text"]?.stringValue { labels.names[id] = text }
            labels.contacts[id] = PatientContact(patient: patient)
            if let me, (patient["generalPractitioner"]?.arrayValue ?? []).contains(where: { $0["reference"]?.stringValue == me }) {
                labels.mine.insert(id)
            }
        }
        if stillUnlocked(since: started) { session?.patients = labels }
        return labels
    }

    /// The Flag's patient, when its reference is one: only an id FHIR allows (`[A-Za-z0-9-.]{1,64}`),
    /// as it goes into the URLs of later requests.
    static func patientID(of flag: JSONValue) -> String? {
        guard let reference = flag["subject"]?["reference"]?.stringValue, reference.hasPrefix("Patient/") else { return nil }
        let id = String(reference.dropFirst("Patient/".count))
        return FHIRSyntax.isValidID(id) ? id : nil
    }

    /// A Flag as the kiosk shows it; nil for one whose ids could steer a later request elsewhere.
    static func alert(from flag: JSONValue, patients: PatientLabels) -> KioskAlert? {
        guard let id = flag["id"]?.stringValue, FHIRSyntax.isValidID(id), let patientID = patientID(of: flag) else { return nil }
        let summary = flag["code"]?["text"]?.stringValue ?? flag["code"]?["coding"]?.arrayValue?.first?["display"]?.stringValue ?? "Alert"
        return KioskAlert(
            id: id, version: flag["meta"]?["versionId"]?.stringValue.flatMap { Int($0) } ?? 1, patientID: patientID,
            patientName: patients.names[patientID] ?? "Patient/\(patientID)", priority: AlertPriority(flag: flag) ?? .gray,
            status: flag["status"]?.stringValue ?? "active", summary: summary,
            raisedAt: flag["period"]?["start"]?.stringValue.flatMap(FHIRDateTime.init)?.lowerBound
                ?? flag.lastUpdatedMilliseconds ?? 0,
            escalated: FlagTriage.isEscalated(flag), snoozedUntil: FlagTriage.snoozedUntil(flag),
            notes: FlagTriage.notes(flag).map { KioskAlert.Note(author: $0.author, time: $0.time, text: $0.text) },
            code: flag["code"]?["coding"]?.arrayValue?.first?["code"]?.stringValue, isMyPatient: patients.mine.contains(patientID),
            contact: patients.contacts[patientID] ?? PatientContact())
    }

    // MARK: Triage

    /// Reads the Flag, and writes the decision into it with If-Match on the version the nurse saw. If
    /// someone else changed it first (a newer version, or a 412), the nurse sees theirs and decides again.
    func triage(_ decision: AlertTriage) async -> [Action] {
        guard let session, let queries else { return [.failed(VaultError.locked.description)] }
        do {
            let current = try await queries.flag(decision.alertID)
            guard let seen = Self.alert(from: current, patients: session.patients) else { return [.failed(t.text(.errorServerSaid, "Flag"))] }
            if seen.version != decision.version { return [.kiosk(.triageConflict(current: seen, attempted: decision))] }
            let changed = FlagTriage.apply(decision.action, note: decision.note, by: session.displayName, at: clock.now(), to: current)
            let answer = try await queries.write(flag: changed, id: decision.alertID, seenVersion: decision.version)
            if answer.status == 412 {
                let newer = try await queries.flag(decision.alertID)
                guard let alert = Self.alert(from: newer, patients: session.patients) else { return [.failed(explain(BedsideAPI.refusal(answer)))] }
                return [.kiosk(.triageConflict(current: alert, attempted: decision))]
            }
            guard answer.status == 200, let stored = answer.json ?? Optional(changed), let alert = Self.alert(from: stored, patients: session.patients)
            else { return [.failed(explain(BedsideAPI.refusal(answer)))] }
            return [.kiosk(.triaged(alert))]
        } catch {
            return [.failed(explain(error))]
        }
    }

    // MARK: One patient

    /// The kind an alert's code names: a vital sign's own LOINC code, or a blood-pressure component's.
    static func kind(ofAlertCode code: String?) -> MeasurementKind? {
        guard let code else { return nil }
        if let kind = MeasurementKind(loincCode: code) { return kind }
        return MeasurementPart.bloodPressureComponent(loincCode: code) != nil ? .bloodPressure : nil
    }

    private var thirtyDaysAgo: Int64 { clock.now() - 30 * 86_400_000 }

    /// The patient's last 30 days of the alerted kind and their five latest answers, in one batch (and
    /// one more for the answers' form titles).
    func loadAlertContext(patientID: String, code: String?) async -> [Action] {
        guard let queries else { return [] }
        let kind = Self.kind(ofAlertCode: code)
        var urls = [KioskQueries.latestResponses(patientID: patientID)]
        if let kind { urls.append(KioskQueries.recentObservations(patientID: patientID, kind: kind, since: thirtyDaysAgo)) }
        let entries = await queries.batchOrEmpty(urls)
        let readings = KioskQueries.records(in: entries.count > 1 ? entries[1] : [:])
        let answers = await queries.answers(in: entries.first ?? [:]).map { AlertContext.RecentAnswer(title: $0.title, authored: $0.authored) }
        return [.kiosk(.alertContextLoaded(AlertContext(patientID: patientID, kind: kind, readings: readings, answers: answers)))]
    }

    /// The patient overview in one batch: the Patient, the last 30 days of every kind, each kind's latest
    /// reading however old, and the five latest answers (one more batch for the forms' titles).
    func loadPatientOverview(patientID: String) async -> [Action] {
        guard let queries else { return [] }
        let kinds = MeasurementKind.allCases
        let urls = [
            "Patient/\(patientID)", KioskQueries.latestResponses(patientID: patientID),
            KioskQueries.recentObservations(patientID: patientID, since: thirtyDaysAgo),
        ] + kinds.map { KioskQueries.latestObservation(patientID: patientID, kind: $0) }
        func failed(_ reason: String) -> [Action] {
            [.kiosk(.patientOverviewLoaded(PatientOverview(patientID: patientID, contact: PatientContact(), readings: [:], latest: [:], answers: [], failure: reason)))]
        }
        let entries: [JSONValue]
        do { entries = try await queries.batch(urls) } catch { return failed(explain(error)) }
        // The Patient's entry is an OperationOutcome when it could not be read (gone, or no longer in the team).
        guard entries[0]["resourceType"]?.stringValue == "Patient", entries[0]["id"]?.stringValue == patientID else {
            return failed(t.text(.errorServerSaid, entries[0]["issue"]?.arrayValue?.first?["diagnostics"]?.stringValue ?? "Patient"))
        }
        let month = Dictionary(grouping: KioskQueries.records(in: entries[2]), by: \.kind)
        var latest: [MeasurementKind: MeasurementRecord] = [:]
        for (kind, bundle) in zip(kinds, entries.dropFirst(3)) {
            if let record = KioskQueries.records(in: bundle).last(where: { $0.kind == kind }) { latest[kind] = record }
        }
        let answers = await queries.answers(in: entries[1]).map { AlertContext.RecentAnswer(title: $0.title, authored: $0.authored) }
        return [.kiosk(.patientOverviewLoaded(PatientOverview(
            patientID: patientID, contact: PatientContact(patient: entries[0]), readings: month, latest: latest, answers: answers)))]
    }
}
