import BedsideCore
import Foundation
import Logging

/// Why an administrative command did nothing, in words for the operator.
public struct AdministrationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// What the server's command line does to accounts, care teams and assignments.
/// Every change is written with an audit line whose actor is the command line.
public struct ServerAdministration: Sendable {
    public let store: any ServerStore
    public let clock: any WallClock
    public let hasher: PasswordHasher

    public init(store: any ServerStore, clock: any WallClock = SystemClock(), hasher: PasswordHasher = .standard) {
        self.store = store
        self.clock = clock
        self.hasher = hasher
    }

    func auditEvent(_ action: String, type: String? = nil, id: String? = nil, patientID: String? = nil) -> AuditEvent {
        AuditEvent(
            at: clock.now(), actorID: "command-line", actorRole: "admin", action: action, resourceType: type, resourceID: id,
            patientID: patientID, outcome: "success", httpStatus: 0, remoteAddress: "local", request: nil)
    }

    static func isPlausibleEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".")
            && !parts[1].hasSuffix(".") && email.count <= 254 && !email.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" })
    }

    /// Creates an account, and for a patient or clinician the FHIR Patient or Practitioner it stands for.
    public func addUser(
        email rawEmail: String, role: Role, password: String, name: String?, birthDate: String? = nil, language: String? = nil,
        phone: String? = nil
    ) async throws -> Account {
        if let language, MailLanguage(rawValue: language) == nil { throw AdministrationError("The language must be en, nl or de.") }
        let email = AuthService.normalizedEmail(rawEmail)
        guard Self.isPlausibleEmail(email) else { throw AdministrationError("'\(rawEmail)' is not an e-mail address.") }
        if let problem = PasswordPolicy().problem(with: password, email: email) { throw AdministrationError(problem) }
        if let birthDate, FHIRDateTime(birthDate)?.precision != .day {
            throw AdministrationError("The birth date must be written as YYYY-MM-DD.")
        }
        if phone != nil, role != .patient { throw AdministrationError("Only a patient's phone number is kept (--phone is for patients).") }
        let phoneNumber = try phone.map(Self.checkedPhoneNumber)
        let givenName = (name?.trimmingCharacters(in: .whitespaces)).flatMap { $0.isEmpty ? nil : $0 }
        // A clinician's name is shown to patients (responsible, notes); one made from the login address
        // would publish the address after all.
        if role == .clinician, givenName == nil {
            throw AdministrationError("A clinician needs a name (--name): patients and colleagues see it, and the login address is not published.")
        }
        let displayName = givenName ?? String(email.split(separator: "@")[0])
        let now = clock.now()
        let hash = try hasher.hash(password)
        let accountID = UUID().uuidString.lowercased()
        let resourceID = UUID().uuidString.lowercased()
        let nameParts = displayName.split(separator: " ").map(String.init)
        var nameObject: JSONObject = ["use": "official", "text": .string(displayName), "family": .string(nameParts.last ?? displayName)]
        if nameParts.count > 1 { nameObject["given"] = .array(nameParts.dropLast().map { .string($0) }) }
        let humanName = JSONValue.object(nameObject)
        var telecom: [JSONValue] = [["system": "email", "value": .string(email), "use": "home"]]
        // The number a nurse calls: the kiosk shows it beside the patient's alerts.
        if let phoneNumber { telecom.append(["system": "phone", "value": .string(phoneNumber), "use": "mobile"]) }
        var account = Account(
            id: accountID, email: email, role: role, passwordHash: hash, displayName: displayName, createdAt: now, language: language)
        var resource: StoredResource?
        switch role {
        case .patient:
            account.patientID = resourceID
            var patient: JSONObject = ["resourceType": "Patient", "active": true, "name": [humanName], "telecom": .array(telecom)]
            if let birthDate { patient["birthDate"] = .string(birthDate) }
            resource = FHIRService.stamp(.object(patient), type: .patient, id: resourceID, version: 1, at: now)
        case .clinician:
            account.practitionerID = resourceID
            // No telecom: the login address is not published to every user who can search Practitioners.
            let practitioner: JSONValue = ["resourceType": "Practitioner", "active": true, "name": [humanName]]
            resource = FHIRService.stamp(practitioner, type: .practitioner, id: resourceID, version: 1, at: now)
        case .admin:
            resource = nil
        }
        let finalAccount = account
        let finalResource = resource
        let event = auditEvent("account-create", type: resource?.type, id: resource?.id, patientID: account.patientID)
        try await store.write { db in
            if try db.account(email: email) != nil { throw AdministrationError("An account for \(email) already exists.") }
            if let finalResource { try db.put(finalResource) }
            try db.insert(finalAccount)
            try db.append([event])
        }
        return finalAccount
    }

    /// The longest phone number kept (ITU-T E.164 numbers have at most 15 digits; spaces and signs come on top).
    static let maximumPhoneLength = 32

    /// A phone number as a person writes it: an optional leading `+`, then digits, spaces and `-()./`,
    /// with 5 to 15 digits (E.164 has at most 15; an emergency number is not the patient's). Returned
    /// trimmed; anything else is refused with the reason.
    static func checkedPhoneNumber(_ raw: String) throws -> String {
        let phone = raw.trimmingCharacters(in: .whitespaces)
        let body = phone.hasPrefix("+") ? phone.dropFirst() : Substring(phone)
        let digits = body.unicodeScalars.filter { ("0"..."9").contains($0) }.count
        let allowed = body.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || " -()./".unicodeScalars.contains($0) }
        guard allowed, (5...15).contains(digits), phone.count <= maximumPhoneLength else {
            throw AdministrationError(
                "'\(raw.prefix(maximumPhoneLength))' is not a phone number: write an optional + and then digits, spaces and - ( ) . / only, "
                    + "5 to 15 digits (for example +31 6 1234 5678).")
        }
        return phone
    }

    /// Changes a password (policy checked) and ends every session of the account.
    public func setPassword(email rawEmail: String, password: String) async throws {
        let email = AuthService.normalizedEmail(rawEmail)
        if let problem = PasswordPolicy().problem(with: password, email: email) { throw AdministrationError(problem) }
        let hash = try hasher.hash(password)
        let now = clock.now()
        let event = auditEvent("password-change")
        try await store.write { db in
            guard let account = try db.account(email: email) else { throw AdministrationError("There is no account for \(email).") }
            try db.updatePasswordHash(accountID: account.id, passwordHash: hash)
            try db.revokeSessions(accountID: account.id, at: now)
            var withActor = event
            withActor.resourceID = account.id
            try db.append([withActor])
        }
    }

    /// Sends an invited patient a new enrolment code (the earlier one stops working), for when the first
    /// expired or went astray. Only for patients who have not yet set a password.
    public func reinvite(email rawEmail: String, mailer: any Mailer) async throws {
        let email = AuthService.normalizedEmail(rawEmail)
        let account = try await store.read { db in try db.account(email: email) }
        guard let account else { throw AdministrationError("There is no account for \(email).") }
        guard account.role == .patient, account.patientID != nil else {
            throw AdministrationError("\(email) is not a patient; invitations are for patients their care organisation enrolled.")
        }
        guard account.passwordHash.isEmpty else {
            throw AdministrationError("\(email) has already enrolled and has a password; to set a new one use `user password`.")
        }
        guard account.disabledAt == nil else { throw AdministrationError("The account \(email) is disabled; enable it first.") }
        let invitations = Invitations(store: store, clock: clock, mailer: mailer, logger: Logger(label: "bedside-server"))
        guard await invitations.invite(account, actor: auditEvent("invite")) else {
            throw AdministrationError("The invitation to \(email) could not be sent (see the log); the earlier code no longer works.")
        }
    }

    /// Disables an account (no login; every session ends at once) or enables it again. The data stays.
    public func setDisabled(_ disabled: Bool, email rawEmail: String) async throws {
        let email = AuthService.normalizedEmail(rawEmail)
        let now = clock.now()
        let event = auditEvent(disabled ? "account-disable" : "account-enable")
        try await store.write { db in
            guard let account = try db.account(email: email) else { throw AdministrationError("There is no account for \(email).") }
            try db.setDisabled(accountID: account.id, at: disabled ? now : nil)
            if disabled { try db.revokeSessions(accountID: account.id, at: now) }
            var withActor = event
            withActor.resourceID = account.id
            withActor.patientID = account.patientID
            try db.append([withActor])
        }
    }

    /// Takes a patient out of a clinician's care team: from the next request on, the clinician sees
    /// nothing of the patient, and is no longer named responsible on the Patient.
    public func removeTeamMember(clinicianEmail: String, patientEmail: String) async throws {
        let clinicianAddress = AuthService.normalizedEmail(clinicianEmail)
        let patientAddress = AuthService.normalizedEmail(patientEmail)
        let event = auditEvent("team-remove")
        let responsibleEvent = auditEvent("team-responsible-removed", type: "Patient")
        let now = clock.now()
        try await store.write { db in
            let (clinician, patientID) = try Self.teamMember(clinician: clinicianAddress, patient: patientAddress, db: db)
            guard try db.teamPatientIDs(clinicianAccountID: clinician.id).contains(patientID) else {
                throw AdministrationError("\(patientAddress) is not in the care team of \(clinicianAddress).")
            }
            // Off every CareTeam of the patient (the truth of who sees them), and so out of the index.
            if let practitionerID = clinician.practitionerID {
                try CareTeams.setMember(
                    practitionerID: practitionerID, display: clinician.displayName, patientID: patientID, member: false, db: db, now: now)
            }
            try db.removeTeamMember(clinicianAccountID: clinician.id, patientID: patientID)
            var withPatient = event
            withPatient.patientID = patientID
            try db.append([withPatient])
            guard let practitionerID = clinician.practitionerID, let current = try db.resource(type: "Patient", id: patientID),
                var resource = JSONParser.parseOrNil(current.json)?.objectValue
            else { return }
            let reference = "Practitioner/\(practitionerID)"
            let responsibleOnes = resource["generalPractitioner"]?.arrayValue ?? []
            let kept = responsibleOnes.filter { $0["reference"]?.stringValue != reference }
            guard kept.count != responsibleOnes.count else { return }
            resource["generalPractitioner"] = kept.isEmpty ? nil : .array(kept)
            try Self.putPatient(resource, after: current, audited: responsibleEvent, db: db, now: now)
        }
    }

    /// The clinician's account and the patient's Patient id named by two addresses, or why not.
    private static func teamMember(clinician: String, patient: String, db: any StoreReading) throws -> (Account, String) {
        guard let account = try db.account(email: clinician), account.role == .clinician else {
            throw AdministrationError("There is no clinician account for \(clinician).")
        }
        guard let patientAccount = try db.account(email: patient), patientAccount.role == .patient, let patientID = patientAccount.patientID else {
            throw AdministrationError("There is no patient account for \(patient).")
        }
        return (account, patientID)
    }

    /// Puts a patient in a clinician's care team. A `responsible` clinician is also named on the
    /// Patient (`generalPractitioner`, a new version), so the kiosk can show them "my patients".
    public func addTeamMember(clinicianEmail: String, patientEmail: String, responsible: Bool = false) async throws {
        let clinicianAddress = AuthService.normalizedEmail(clinicianEmail)
        let patientAddress = AuthService.normalizedEmail(patientEmail)
        let event = auditEvent("team-add")
        let responsibleEvent = auditEvent("team-responsible", type: "Patient")
        let now = clock.now()
        try await store.write { db in
            let (clinician, patientID) = try Self.teamMember(clinician: clinicianAddress, patient: patientAddress, db: db)
            if let practitionerID = clinician.practitionerID {
                try CareTeams.setMember(
                    practitionerID: practitionerID, display: clinician.displayName, patientID: patientID, member: true, db: db, now: now)
            } else {
                try db.addTeamMember(clinicianAccountID: clinician.id, patientID: patientID)
                try db.deleteCareEnd(patientID: patientID)  // in someone's care again
            }
            var withPatient = event
            withPatient.patientID = patientID
            try db.append([withPatient])
            guard responsible, let practitionerID = clinician.practitionerID,
                let current = try db.resource(type: "Patient", id: patientID), var resource = JSONParser.parseOrNil(current.json)?.objectValue
            else { return }
            let reference = "Practitioner/\(practitionerID)"
            var responsibleOnes = resource["generalPractitioner"]?.arrayValue ?? []
            guard !responsibleOnes.contains(where: { $0["reference"]?.stringValue == reference }) else { return }
            responsibleOnes.append(["reference": .string(reference), "display": .string(clinician.displayName)])
            resource["generalPractitioner"] = .array(responsibleOnes)
            try Self.putPatient(resource, after: current, audited: responsibleEvent, db: db, now: now)
        }
    }

    /// The identifier system under which a canonical resource's `url` is indexed, to find it by url.
    public static let canonicalSystem = "urn:bedside:canonical"

    /// Stores a canonical resource (Questionnaire, ValueSet): a new version of the one with the same url,
    /// else a new one. Returns its id.
    static func putCanonical(_ resource: JSONValue, type: SupportedResource, db: any StoreWriting, at now: Int64) throws -> String {
        var id = UUID().uuidString.lowercased()
        var version = 1
        if let url = resource["url"]?.stringValue,
            let existing = try db.resourceID(type: type.rawValue, identifier: ResourceCode(system: canonicalSystem, code: url), patientID: nil),
            let current = try db.resource(type: type.rawValue, id: existing)
        {
            id = existing
            version = current.versionID + 1
        }
        try db.put(FHIRService.stamp(resource, type: type, id: id, version: version, at: now))
        return id
    }

    /// Stores a Questionnaire (a new version if its url is known) and a Task asking the patient to fill it in.
    /// Returns the ids of the Questionnaire and the Task.
    /// `valueSets` are the answer lists the form points at (`answerValueSet`) that it does not contain;
    /// patients' apps fetch them by url.
    public func assign(questionnaire: JSONValue, patientEmail: String, due: FHIRDateTime?, valueSets: [JSONValue] = []) async throws
        -> (String, String)
    {
        guard questionnaire["resourceType"]?.stringValue == "Questionnaire" else {
            throw AdministrationError("The file is not a FHIR Questionnaire (resourceType must be \"Questionnaire\").")
        }
        for valueSet in valueSets {
            guard valueSet["resourceType"]?.stringValue == "ValueSet", valueSet["url"]?.stringValue?.isEmpty == false else {
                throw AdministrationError("A value set file must be a FHIR ValueSet with a url (the canonical the questionnaire names).")
            }
            guard ValueSetCodes.codings(of: valueSet) != nil else {
                throw AdministrationError(
                    "The value set \(valueSet["url"]?.stringValue ?? "") lists no codes (expansion.contains or compose.include.concept); an app could not offer them.")
            }
        }
        guard questionnaire["item"]?.arrayValue?.isEmpty == false else {
            throw AdministrationError("The questionnaire has no items to answer.")
        }
        for (resource, type) in [(questionnaire, SupportedResource.questionnaire)] + valueSets.map({ ($0, .valueSet) }) {
            if let path = FHIRService.overlongIndexedValue(resource, type: type) {
                throw AdministrationError("\(path) is longer than \(ServerLimits.indexedValueBytes) bytes: it could not be looked up by.")
            }
        }
        let email = AuthService.normalizedEmail(patientEmail)
        let now = clock.now()
        let url = questionnaire["url"]?.stringValue
        let title = questionnaire["title"]?.stringValue ?? questionnaire["name"]?.stringValue ?? "Questionnaire"
        let clock = self.clock
        let event = auditEvent("assign", type: "Task")
        return try await store.write { db in
            guard let account = try db.account(email: email), account.role == .patient, let patientID = account.patientID else {
                throw AdministrationError("There is no patient account for \(email).")
            }
            let questionnaireID = try Self.putCanonical(questionnaire, type: .questionnaire, db: db, at: now)
            for valueSet in valueSets { _ = try Self.putCanonical(valueSet, type: .valueSet, db: db, at: now) }
            let taskID = UUID().uuidString.lowercased()
            var task: JSONObject = [
                "resourceType": "Task",
                "status": "requested",
                "intent": "order",
                "code": ["coding": [["system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"]]],
                "description": .string("Please fill in: \(title)"),
                "focus": ["reference": .string("Questionnaire/\(questionnaireID)"), "display": .string(title)],
                "for": ["reference": .string("Patient/\(patientID)")],
                "owner": ["reference": .string("Patient/\(patientID)")],
                "authoredOn": .string(FHIRDateTime.format(epochMilliseconds: clock.now())),
            ]
            if let url { task["input"] = [["type": ["text": "questionnaire"], "valueCanonical": .string(url)]] }
            if let due { task["restriction"] = ["period": ["end": .string(due.text)]] }
            try db.put(FHIRService.stamp(.object(task), type: .task, id: taskID, version: 1, at: now))
            var withIDs = event
            withIDs.resourceID = taskID
            withIDs.patientID = patientID
            try db.append([withIDs])
            return (questionnaireID, taskID)
        }
    }
}
