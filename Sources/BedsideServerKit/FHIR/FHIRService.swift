import BedsideCore
import Foundation

/// The FHIR REST operations: read, search, create, update, transaction, batch, each access-checked and audited.
public struct FHIRService: Sendable {
    public let store: any ServerStore
    public let clock: any WallClock
    public let auditRecorder: AuditRecorder
    /// Sends enrolment codes to the patients a backend client enrols; nil where nobody is invited (tests, fuzzing).
    public var invitations: Invitations?
    /// Where bodies too large to read in passing are parsed and checked (one at a time, a few waiting).
    let bodyReading = BoundedWorkPool(label: "body-reading", workers: 1, queueLimit: 16, perCallerLimit: 2)
    /// Bodies up to this size are read on the request's own thread: it takes well under a millisecond.
    static let inlineBodyBytes = 64 << 10

    public init(store: any ServerStore, clock: any WallClock, auditRecorder: AuditRecorder) {
        self.store = store
        self.clock = clock
        self.auditRecorder = auditRecorder
    }

    /// Parses a body (and, given a type, validates it as that resource) — large ones on `bodyReading`,
    /// so a stream of megabyte uploads cannot hold the threads everyone else's requests run on.
    /// `caller` (the account) holds at most two places there at once.
    func read(_ body: [UInt8], as type: SupportedResource? = nil, caller: String) async throws(ServerError) -> JSONValue {
        let now = clock.now()
        let work: @Sendable () -> Result<JSONValue, ServerError> = {
            Result { () throws(ServerError) -> JSONValue in
                let resource = try Self.parseResource(body)
                if let type { try Self.validate(resource, type: type, now: now) }
                return resource
            }
        }
        guard body.count > Self.inlineBodyBytes else { return try work().get() }
        do {
            return try await bodyReading.run(caller: caller, work).get()
        } catch let error as ServerError {
            throw error
        } catch {
            throw .busy(retryAfterSeconds: 2)
        }
    }

    static func resourceType(_ name: String) throws(ServerError) -> SupportedResource {
        guard let type = SupportedResource(rawValue: name) else {
            throw .notFound("This server has no resource type '\(name)'. See /fhir/metadata.")
        }
        return type
    }

    /// What a read gets when its audit line cannot be written: nothing shown without a record of it.
    static let unrecorded = ServerError.unavailable("This access could not be recorded, so nothing is shown. Try again in a moment.")

    static func notFound(_ type: String, _ id: String) -> ServerError {
        .notFound("\(type)/\(id) was not found.")
    }

    func storeRead<T: Sendable>(_ work: @escaping @Sendable (any StoreReading) throws -> T) async throws(ServerError) -> T {
        do { return try await store.read(work) } catch { throw .storage(error) }
    }

    // MARK: Read

    /// The current version, or the given one, of a resource the principal may see; only its validators
    /// when `ifNoneMatch` names that version. Plain GETs and batch entries both come here.
    /// `parameters` are the read's query: `_elements` cuts the answer down; the rest (`_format`,
    /// `_pretty`) concern how it is written.
    public func read(
        type name: String, id: String, version: Int? = nil, parameters: [(String, String)] = [], ifNoneMatch: String? = nil,
        info: RequestInfo
    ) async throws(ServerError) -> ReadAnswer {
        let type = try Self.resourceType(name)
        try AccessPolicy.requireScope(.read, on: type, principal: info.principal)
        let subset = try parameters.last { $0.0 == "_elements" }.map { pair throws(ServerError) in try ElementSubset.parse(pair.1, type: type) }
        guard FHIRSyntax.isValidID(id) else { throw Self.notFound(name, id) }
        let current = try await storeRead { db in try db.resource(type: name, id: id) }
        let now = clock.now()
        guard let current, AccessPolicy.mayRead(type, patientID: current.patientID, principal: info.principal),
            AccessPolicy.visibleIDs(type, principal: info.principal)?.contains(id) ?? true
        else {
            await auditRecorder.record(info.audit("read", type: name, id: id, outcome: "failure", status: 404, at: now))
            throw Self.notFound(name, id)
        }
        var found = current
        if let version, version != current.versionID {
            guard let old = try await storeRead({ db in try db.resource(type: name, id: id, version: version) }) else {
                throw .notFound("\(name)/\(id) has no version \(version).")
            }
            found = old
        }
        // A part (`_elements`) is never answered 304: the client's copy under that tag may be the whole.
        let notModified = subset == nil && (ifNoneMatch.map { ETag.matches($0, version: found.versionID) } ?? false)
        // A part has a tag of its own, so no cache takes it for the whole resource (or the other way round).
        let etag = subset.map { "W/\"\(found.versionID).elements-\(Secrets.sha256Hex($0.names.sorted().joined(separator: ",")).prefix(12))\"" }
        let answer = ReadAnswer(
            etag: etag ?? ETag.make(version: found.versionID), lastModified: found.lastUpdated,
            body: notModified ? nil : subset.map { $0.apply(to: found.json, type: type) } ?? found.json)
        guard await auditRecorder.record(info.audit("read", type: name, id: id, patientID: found.patientID, status: answer.status, at: now))
        else { throw Self.unrecorded }
        return answer
    }

    // MARK: Search

    /// A searchset Bundle with its tag (`ETag.searchset`); only the tag when `ifNoneMatch` names it.
    /// Plain GETs and batch entries both come here.
    public func search(type name: String, parameters: [(String, String)], ifNoneMatch: String? = nil, info: RequestInfo)
        async throws(ServerError) -> ReadAnswer
    {
        let type = try Self.resourceType(name)
        try AccessPolicy.requireScope(.search, on: type, principal: info.principal)
        var query = try SearchRequest.parse(type: type, parameters: parameters, now: clock.now())
        let cursorSearch = SearchCursor.searchKey(type: name, parameters: parameters, sort: query.sort)
        if let token = query.cursorToken {
            guard let cursor = SearchCursor.open(token, search: cursorSearch, keys: store.keys), cursor.sortValues.count == query.sort.count else {
                throw SearchRequest.foreignCursor("_cursor")
            }
            query.after = cursor
        }
        if let allowed = AccessPolicy.searchablePatients(type, principal: info.principal) {
            query.patientIDs = query.patientIDs.map { $0.filter(allowed.contains) } ?? allowed
        }
        if let visible = AccessPolicy.visibleIDs(type, principal: info.principal) {
            query.ids = (query.ids ?? visible.sorted()).filter(visible.contains)
        }
        // `_has`: each inner search runs with the same access limits as if it were asked on its own.
        let principal = info.principal
        let page = try await storeRead { [query] db in
            var resolved = query
            for var inner in query.has {
                let type = SupportedResource(rawValue: inner.type) ?? .observation
                if let allowed = AccessPolicy.searchablePatients(type, principal: principal) {
                    inner.patientIDs = inner.patientIDs.map { $0.filter(allowed.contains) } ?? allowed
                }
                let having = try db.patientIDs(matching: inner)
                resolved.patientIDs = (resolved.patientIDs ?? Array(having).sorted()).filter(having.contains)
            }
            // `_summary=count` reads no resources; `_total` counts as well as reads.
            var page = resolved.countOnly ? ResourcePage(resources: [], hasMore: false) : try db.search(resolved)
            if resolved.countOnly || resolved.wantsTotal { page.total = try db.total(matching: resolved) }
            page.included = try Self.included(for: page, query: resolved, principal: principal, db: db)
            return page
        }
        let now = clock.now()
        let etag = ETag.searchset(type: name, parameters: parameters, query: query, page: page)
        let notModified = ifNoneMatch.map { ETag.matches($0, tag: etag) } ?? false
        // One line per patient whose data the answer shows, so "who saw this patient" has an answer
        // for a clinician's searches over the whole care team too.
        let shown = notModified ? [] : Set((page.resources + page.included).compactMap(\.patientID)).sorted()
        let onlyPatient = query.patientIDs?.count == 1 ? query.patientIDs?.first : nil
        // The other types an answer brought along (`_include`, `_revinclude`): one line each, so what a
        // caller reads is on the record by type too (unusual activity: a client's first read of a type).
        let alongside = Set(page.included.map(\.type)).subtracting([name]).sorted().map { type in
            info.audit("search-include", type: type, status: 200, at: now)
        }
        let events =
            (shown.isEmpty
                ? [info.audit("search", type: name, patientID: onlyPatient, status: notModified ? 304 : 200, at: now)]
                : shown.map { info.audit("search", type: name, patientID: $0, status: 200, at: now) }) + (notModified ? [] : alongside)
        // The audit lines are written while the Bundle is made; the answer leaves only once they are.
        let auditRecorder = auditRecorder
        async let recorded = auditRecorder.record(events)
        guard !notModified else {
            guard await recorded else { throw Self.unrecorded }
            return ReadAnswer(etag: etag, lastModified: nil, body: nil)
        }
        let next = page.next.flatMap { SearchCursor.seal($0, search: cursorSearch, keys: store.keys) }
        let bundle = BundleWriter.searchset(
            type: name, page: page, query: query, parameters: parameters, nextCursor: next, baseURL: info.baseURL, now: now)
        guard await recorded else { throw Self.unrecorded }
        return ReadAnswer(etag: etag, lastModified: nil, body: bundle)
    }

    // MARK: Create and update

    /// A resource ready to be stored: checked, given its id and meta, indexed.
    struct Prepared: Sendable {
        var resource: StoredResource
        var patientID: String?
    }

    /// Parses and validates a request body as a resource of `type`.
    static func parseResource(_ body: [UInt8]) throws(ServerError) -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body)
        } catch {
            throw .badRequest("The body is not valid JSON: \(error.description).")
        }
        if let violation = ServerLimits.resourceShape.violation(in: value) {
            throw .tooCostly("The body is too large in shape: \(violation). See the limits in /fhir/metadata.")
        }
        return value
    }

    func validate(_ resource: JSONValue, type: SupportedResource, pathPrefix: String? = nil) throws(ServerError) {
        try Self.validate(resource, type: type, now: clock.now(), pathPrefix: pathPrefix)
    }

    static func validate(_ resource: JSONValue, type: SupportedResource, now: Int64, pathPrefix: String? = nil) throws(ServerError) {
        var issues: [OutcomeIssue] = []
        // FHIR strings hold no U+0000 (and PostgreSQL's text cannot): refused on either backend alike.
        if let path = nulPath(resource, at: type.rawValue) {
            issues.append(OutcomeIssue(code: "invalid", diagnostics: "A FHIR string may not contain the character U+0000.", expression: path))
        } else if let path = overlongIndexedValue(resource, type: type) {
            issues.append(
                OutcomeIssue(
                    code: "too-long",
                    diagnostics: "An identifier, a coding's system or code, or a canonical url may be at most \(ServerLimits.indexedValueBytes) bytes long.",
                    expression: path))
        } else {
            issues = ResourceValidator(now: now).validate(resource, as: type.rawValue)
        }
        guard issues.isEmpty else {
            let outcome = OperationOutcome(issues)
            throw .invalid(pathPrefix.map { outcome.located(at: $0, type: type.rawValue) } ?? outcome)
        }
    }

    /// Where a value the resource is found by (`ResourceIndexer`) is longer than an index entry may be.
    static func overlongIndexedValue(_ resource: JSONValue, type: SupportedResource) -> String? {
        func tooLong(_ code: ResourceCode) -> Bool {
            code.system.utf8.count > ServerLimits.indexedValueBytes || code.code.utf8.count > ServerLimits.indexedValueBytes
        }
        let index = ResourceIndexer.index(resource, type: type, id: "")
        if let found = index.identifiers.first(where: tooLong) {
            return found.system == ServerAdministration.canonicalSystem ? "\(type.rawValue).url" : "\(type.rawValue).identifier"
        }
        if index.codes.contains(where: tooLong) { return "\(type.rawValue).code.coding" }
        if index.categories.contains(where: tooLong) { return "\(type.rawValue).category.coding" }
        return nil
    }

    /// Where the first U+0000 in `value` is (a member's name or a string), as a FHIRPath-like path.
    static func nulPath(_ value: JSONValue, at path: String) -> String? {
        switch value {
        case .string(let text): return text.utf8.contains(0) ? path : nil
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let found = nulPath(item, at: "\(path)[\(index)]") { return found }
            }
            return nil
        case .object(let object):
            for member in object.members {
                if member.key.utf8.contains(0) { return path }
                if let found = nulPath(member.value, at: "\(path).\(member.key)") { return found }
            }
            return nil
        case .null, .bool, .number: return nil
        }
    }

    /// Gives the resource its id and meta (keeping any profile, tag or source the client set) and indexes it.
    /// The time a version is stamped with, read inside the write transaction: writes are serial, so
    /// `lastUpdated` follows the order in which versions become visible, and a Bulk Data export's
    /// `_since` (the last export's transactionTime) misses nothing committed after that export looked.
    static func commitTime(after start: Int64, clock: any WallClock) -> Int64 {
        max(start, clock.now())
    }

    public static func stamp(_ resource: JSONValue, type: SupportedResource, id: String, version: Int, at time: Int64) -> StoredResource {
        var object = resource.objectValue ?? JSONObject()
        var meta = object["meta"]?.objectValue ?? JSONObject()
        meta["versionId"] = .string(String(version))
        meta["lastUpdated"] = .string(FHIRDateTime.format(epochMilliseconds: time))
        var stamped = JSONObject()
        stamped["resourceType"] = .string(type.rawValue)
        stamped["id"] = .string(id)
        stamped["meta"] = .object(meta)
        for member in object where !["resourceType", "id", "meta"].contains(member.key) {
            stamped[member.key] = member.value
        }
        object = stamped
        let json = JSONValue.object(object)
        let index = ResourceIndexer.index(json, type: type, id: id)
        // The same identifier twice in one resource is one identifier (not a clash with itself).
        var seen = Set<ResourceCode>()
        let identifiers = index.identifiers.filter { seen.insert($0).inserted }
        return StoredResource(
            type: type.rawValue, id: id, versionID: version, lastUpdated: time, patientID: index.patientID, status: index.status,
            date: index.date, priority: index.priority, json: json.serialized(), codes: index.codes, identifiers: identifiers,
            categories: index.categories)
    }

    /// Checks that the principal may write this resource in its patient's compartment.
    private func checkWriteAccess(_ resource: JSONValue, type: SupportedResource, info: RequestInfo) throws(ServerError) -> String? {
        let patientID = ResourceIndexer.index(resource, type: type, id: "").patientID
        if type.isPatientData {
            guard let patientID, AccessPolicy.mayWrite(type, patientID: patientID, principal: info.principal) else {
                throw .notFound("Patient/\(patientID ?? "?") was not found.")
            }
        }
        return patientID
    }

    public struct WriteResult: Sendable {
        public var resource: StoredResource
        /// false when a conditional create found the resource already there.
        public var created: Bool
    }

    /// `POST /fhir/<type>`, optionally conditional on `If-None-Exist: identifier=system|value`.
    public func create(type name: String, body: [UInt8], ifNoneExist: String?, info: RequestInfo) async throws(ServerError) -> WriteResult {
        let type = try Self.resourceType(name)
        try AccessPolicy.requireScope(.create, on: type, principal: info.principal)
        guard AccessPolicy.mayCreate(type, principal: info.principal) else {
            throw .methodNotAllowed("\(name) resources cannot be created through this API.")
        }
        var resource = try await read(body, as: type, caller: info.principal.accountID)
        if type == .subscription { resource = try SubscriptionRules.accept(resource, current: nil, principal: info.principal, now: clock.now()) }
        _ = try checkWriteAccess(resource, type: type, info: info)
        let condition = try ifNoneExist.map { value throws(ServerError) in try Self.parseIfNoneExist(value) }
        let now = clock.now()
        let id = UUID().uuidString.lowercased()
        // A Patient with an e-mail address is enrolled: an account, and an invitation once stored.
        let invited = type == .patient ? try Self.invitedAccount(for: resource, patientID: id, now: now) : nil
        let clock = self.clock
        let accepted = resource
        let result: WriteResult
        do {
            result = try await store.write { db in
                let stamped = Self.stamp(accepted, type: type, id: id, version: 1, at: Self.commitTime(after: now, clock: clock))
                let result = try Self.createOrMatch(stamped, condition: condition, db: db, info: info, now: now)
                if result.created, let invited { try Self.insertInvited(invited, db: db) }
                return result
            }
        } catch let error as ServerError {
            throw error
        } catch {
            throw .storage(error)
        }
        if result.created, let invited, let invitations {
            await invitations.invite(invited, actor: info.audit("invite", type: "Patient", id: id, patientID: id, status: 201, at: now))
        }
        return result
    }

    /// That the patient exists is checked here, inside the write: a backend client may write for any
    /// patient, and a person's access was checked before the write began (the patient may have been
    /// erased since).
    static func requirePatientExists(
        _ patientID: String?, type: String, db: any StoreReading, info: RequestInfo, memo: TransactionMemo? = nil
    ) throws {
        // For everyone: a request let in before an erasure may write after it, and must not bring the
        // patient's data back.
        guard let patientID, type != "Patient" else { return }
        let found = try memo.map { memo in try memo.patient(patientID, db: db) != nil } ?? (db.resource(type: "Patient", id: patientID) != nil)
        guard found else { throw ServerError.notFound("Patient/\(patientID) was not found.") }
    }

    /// What one write transaction has read of its patients' Patient resources, so that a Bundle of a
    /// hundred readings reads each patient once (that they exist, and their alert rules). A patient
    /// found stays so until the write commits (an erasure is a write, and waits for it); an entry that
    /// writes a Patient is forgotten, so what follows it reads the new version.
    final class TransactionMemo {
        private var patients: [String: JSONValue] = [:]

        /// The patient's resource, parsed; nil when there is none.
        func patient(_ id: String, db: any StoreReading) throws -> JSONValue? {
            if let known = patients[id] { return known }
            guard let stored = try db.resource(type: "Patient", id: id) else { return nil }
            let parsed = JSONParser.parseOrNil(stored.json) ?? .object([:])
            patients[id] = parsed
            return parsed
        }

        func forget(_ id: String) { patients[id] = nil }

        /// Before a Bundle's creates: their patients read, then their conditions' identifiers asked
        /// for together (a backend across a network answers them in one query, good until its next
        /// statement: reading the patients first keeps them from ending it at the first entry).
        func prepare(creates: [(resource: StoredResource, condition: ResourceCode?)], db: any StoreReading) throws {
            for patientID in Set(creates.compactMap { $0.resource.type == "Patient" ? nil : $0.resource.patientID }).sorted() {
                _ = try patient(patientID, db: db)
            }
            let conditional = creates.compactMap { create in create.condition.map { (create.resource, $0) } }
            for (type, group) in Dictionary(grouping: conditional, by: { $0.0.type }).sorted(by: { $0.key < $1.key }) {
                try db.expectLookups(type: type, group.map { (identifier: $0.1, patientID: $0.0.identifierScope) })
            }
        }
    }

    /// What a resource points at must be here: an assignment's (Task's) `focus` a stored Questionnaire,
    /// or the patient would see a task they cannot open; a Group's members stored Patients, or an export
    /// of the group would silently miss them.
    static func requireReferencesExist(_ stamped: StoredResource, db: any StoreReading) throws {
        if stamped.type == SupportedResource.group.rawValue, let group = JSONParser.parseOrNil(stamped.json) {
            for (index, member) in (group["member"]?.arrayValue ?? []).enumerated() {
                guard let id = ResourceIndexer.patientID(member["entity"]), try db.resource(type: "Patient", id: id) != nil else {
                    throw ServerError.invalid(OperationOutcome(
                        code: "not-found", diagnostics: "Group.member[\(index)].entity names no Patient this server holds.",
                        expression: "Group.member[\(index)].entity"))
                }
            }
        }
        guard stamped.type == SupportedResource.task.rawValue, let task = JSONParser.parseOrNil(stamped.json),
            let reference = task["focus"]?["reference"]?.stringValue
        else { return }
        guard let parsed = FHIRSyntax.parseReference(reference), parsed.type == "Questionnaire",
            try db.resource(type: "Questionnaire", id: parsed.id) != nil
        else {
            throw ServerError.invalid(OperationOutcome(
                code: "not-found", diagnostics: "Task.focus must name a Questionnaire this server holds (\(reference.prefix(80)) is not one).",
                expression: "Task.focus"))
        }
    }

    /// Inside a transaction: returns the resource an identifier already names, or stores the new one.
    static func createOrMatch(
        _ stamped: StoredResource, condition: ResourceCode?, db: any StoreWriting, info: RequestInfo, now: Int64,
        memo: TransactionMemo? = nil
    ) throws -> WriteResult {
        try requirePatientExists(stamped.patientID, type: stamped.type, db: db, info: info, memo: memo)
        try requireReferencesExist(stamped, db: db)
        // Identifiers are looked up in the resource's own patient's compartment (which the caller may
        // write, or it would not have come this far): another patient's identifiers are never seen.
        if let condition, let existingID = try db.resourceID(type: stamped.type, identifier: condition, patientID: stamped.identifierScope),
            let existing = try db.resource(type: stamped.type, id: existingID)
        {
            // A replay: the client's earlier upload arrived.
            try db.append([info.audit("create-matched", type: stamped.type, id: existing.id, patientID: existing.patientID, status: 200, at: now)])
            return WriteResult(resource: existing, created: false)
        }
        // (The condition's identifier was just looked up: no need to ask again. `ResourceCode` compares
        // bytes, as the databases do.)
        for identifier in stamped.identifiers where try identifier != condition
            && db.resourceID(type: stamped.type, identifier: identifier, patientID: stamped.identifierScope) != nil
        {
            throw ServerError.invalid(OperationOutcome(
                code: "duplicate",
                diagnostics: "Another \(stamped.type) already has the identifier \(identifier.code); send it with ifNoneExist to make the upload idempotent.",
                expression: "\(stamped.type).identifier"))
        }
        try db.create(stamped)
        if stamped.type == SupportedResource.careTeam.rawValue, let patientID = stamped.patientID {
            try CareTeams.synchronize(patientID: patientID, db: db, now: now)
        }
        if stamped.type == SupportedResource.subscription.rawValue { try SubscriptionLifecycle.created(stamped, db: db, info: info) }
        try db.append([info.audit("create", type: stamped.type, id: stamped.id, patientID: stamped.patientID, status: 201, at: now)])
        try ResponseFollowUp.apply(stamped, db: db, info: info, now: now)
        try ObservationFollowUp.apply(stamped, db: db, info: info, now: now, memo: memo)
        return WriteResult(resource: stamped, created: true)
    }

    /// `identifier=system|value`, the only condition this server accepts.
    static func parseIfNoneExist(_ text: String) throws(ServerError) -> ResourceCode {
        let trimmed = text.hasPrefix("?") ? String(text.dropFirst()) : text
        guard trimmed.hasPrefix("identifier="), let value = String(trimmed.dropFirst("identifier=".count)).removingPercentEncoding,
            !value.isEmpty, !value.contains("&")
        else {
            throw .badRequest("Only 'identifier=system|value' is supported as a create condition.", expression: "ifNoneExist")
        }
        // As a search value: no control characters (no stored identifier holds one).
        guard !value.containsControlCharacters else {
            throw .badRequest("A create condition may not contain control characters.", expression: "ifNoneExist", code: "invalid")
        }
        guard let bar = value.firstIndex(of: "|") else { return ResourceCode(system: "", code: value) }
        return ResourceCode(system: String(value[..<bar]), code: String(value[value.index(after: bar)...]))
    }

    /// `PUT /fhir/<type>/<id>` with `If-Match: W/"<version>"`.
    public func update(type name: String, id: String, body: [UInt8], ifMatch: String?, info: RequestInfo) async throws(ServerError)
        -> StoredResource
    {
        let type = try Self.resourceType(name)
        try AccessPolicy.requireScope(.update, on: type, principal: info.principal)
        guard AccessPolicy.mayUpdate(type, principal: info.principal) else {
            throw .methodNotAllowed("\(name) resources cannot be changed through this API.")
        }
        guard FHIRSyntax.isValidID(id) else { throw Self.notFound(name, id) }
        let resource = try await read(body, caller: info.principal.accountID)
        guard resource["id"]?.stringValue == id else {
            throw .badRequest("The resource id in the body must be '\(id)', the id in the URL.", expression: "\(name).id")
        }
        guard let ifMatch else {
            throw .preconditionRequired("Send If-Match with the version you changed (W/\"<versionId>\"), so no one else's change is overwritten.")
        }
        guard let expected = ETag.version(ifMatch) else {
            throw .badRequest("If-Match must be a version tag such as W/\"3\".")
        }
        try validate(resource, type: type)
        let newPatient = try checkWriteAccess(resource, type: type, info: info)
        let now = clock.now()
        let clock = self.clock
        do {
            return try await store.write { db in
                try Self.applyUpdate(
                    resource, type: type, id: id, ifMatch: expected, patientID: newPatient, db: db, info: info,
                    now: Self.commitTime(after: now, clock: clock))
                    .resource
            }
        } catch let error as ServerError {
            if case .preconditionFailed = error {
                // The write's transaction rolled back; the refused attempt is still on the record.
                await auditRecorder.record(
                    info.audit("update-conflict", type: name, id: id, patientID: newPatient, outcome: "failure", status: 412, at: now))
            }
            throw error
        } catch {
            throw .storage(error)
        }
    }

    /// Inside a transaction: stores a new version of a resource the principal may change. The one place
    /// that checks the version, the patient and the identifiers, for PUT and for transaction entries alike.
    static func applyUpdate(
        _ resource: JSONValue, type: SupportedResource, id: String, ifMatch: Int?, patientID: String?, db: any StoreWriting,
        info: RequestInfo, now: Int64
    ) throws -> WriteResult {
        let name = type.rawValue
        guard let current = try db.resource(type: name, id: id),
            AccessPolicy.mayWrite(type, patientID: current.patientID, principal: info.principal)
        else { throw notFound(name, id) }
        if let ifMatch, ifMatch != current.versionID {
            throw ServerError.preconditionFailed(
                "\(name)/\(id) was changed by someone else (now version \(current.versionID), you sent \(ifMatch)). Reload it and decide again.")
        }
        guard current.patientID == patientID else {
            throw ServerError.invalid(OperationOutcome(
                code: "business-rule", diagnostics: "A resource cannot be moved to another patient.", expression: "\(name).subject"))
        }
        let before = JSONParser.parseOrNil(current.json)
        var resource = resource
        if type == .flag, let before {
            resource = try FlagNotes.appendOnly(before: before, after: resource, author: info.principal.displayName, at: now)
        }
        if type == .subscription { resource = try SubscriptionRules.accept(resource, current: before, principal: info.principal, now: now) }
        let stamped = stamp(resource, type: type, id: id, version: current.versionID + 1, at: max(now, current.lastUpdated + 1))
        for identifier in stamped.identifiers {
            if let other = try db.resourceID(type: name, identifier: identifier, patientID: stamped.identifierScope), other != id {
                throw ServerError.invalid(OperationOutcome(
                    code: "duplicate", diagnostics: "Another \(name) already has the identifier \(identifier.code).",
                    expression: "\(name).identifier"))
            }
        }
        try requireReferencesExist(stamped, db: db)
        try db.put(stamped)
        if type == .careTeam, let patientID = stamped.patientID {
            // Whether this write ended a team that was going on: it may end the patient's care.
            let ended = CareTeams.isOngoing(before) && !CareTeams.isOngoing(JSONParser.parseOrNil(stamped.json)) ? id : nil
            try CareTeams.synchronize(patientID: patientID, db: db, now: now, endedTeamID: ended)
        }
        if type == .subscription { try SubscriptionLifecycle.updated(from: current.status, to: stamped, db: db) }
        var events = [info.audit("update", type: name, id: id, patientID: stamped.patientID, status: 200, at: now)]
        if type == .flag, let before {
            // A nurse's decision, by name. The trail holds no health data: why is the note in the
            // version the event names (Flag/<id>/_history/<n>).
            for decision in FlagTriage.decisions(from: before, to: resource) {
                events.append(info.audit(decision, type: name, id: "\(id)/_history/\(stamped.versionID)", patientID: stamped.patientID, status: 200, at: now))
            }
        }
        try db.append(events)
        // A corrected value or a response completed later is as much news as a new one: the same rules
        // run (they are idempotent: an unchanged alert on an open Flag writes nothing). A remark added
        // later runs only the remark rule, or it would reopen a value's alert a nurse already handled.
        switch Self.clinicalChange(type, from: before, to: resource) {
        case .content:
            try ResponseFollowUp.apply(stamped, db: db, info: info, now: now)
            try ObservationFollowUp.apply(stamped, db: db, info: info, now: now)
        case .remarkOnly:
            try ObservationFollowUp.apply(stamped, db: db, info: info, now: now, only: { $0.rule == "remark" })
        case .none:
            break
        }
        return WriteResult(resource: stamped, created: false)
    }

    enum ClinicalChange { case none, remarkOnly, content }

    /// What of an update the alert rules and assignments look at: the values (or status), only the
    /// patient's remark, or nothing.
    static func clinicalChange(_ type: SupportedResource, from before: JSONValue?, to after: JSONValue) -> ClinicalChange {
        let elements: [String]
        switch type {
        case .observation:
            elements = [
                "status", "code", "component", "valueQuantity", "valueCodeableConcept", "valueString", "valueInteger",
                "effectiveDateTime", "effectivePeriod", "effectiveInstant", "dataAbsentReason",
            ]
        case .questionnaireResponse:
            elements = ["status", "item", "questionnaire", "basedOn"]
        default:
            return .none
        }
        guard let before else { return .content }
        if elements.contains(where: { before[$0] != after[$0] }) { return .content }
        return type == .observation && before["note"] != after["note"] ? .remarkOnly : .none
    }
}

/// Weak entity tags carrying the version id: `W/"3"`.
public enum ETag {
    public static func make(version: Int) -> String { "W/\"\(version)\"" }

    /// The version in an `If-Match`/`If-None-Match` value (`W/"3"`, `"3"`).
    public static func version(_ header: String) -> Int? {
        var text = Substring(header.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        guard text.count >= 3, text.first == "\"", text.last == "\"" else { return nil }
        return Int(text.dropFirst().dropLast())
    }

    /// Whether an `If-None-Match` header names this version (or `*`).
    public static func matches(_ header: String, version: Int) -> Bool {
        header.split(separator: ",").contains { part in
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            return trimmed == "*" || Self.version(trimmed) == version
        }
    }

    /// Whether an `If-None-Match` header names this tag (or `*`). Weak comparison, as RFC 9110 asks for
    /// If-None-Match: `W/"x"` and `"x"` are the same tag.
    public static func matches(_ header: String, tag: String) -> Bool {
        let wanted = opaque(tag)
        return header.split(separator: ",").contains { part in
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            return trimmed == "*" || opaque(trimmed) == wanted
        }
    }

    private static func opaque(_ tag: String) -> Substring {
        let text = Substring(tag.trimmingCharacters(in: .whitespaces))
        return text.hasPrefix("W/") ? text.dropFirst(2) : text
    }
}
