import BedsideCore
import Foundation

extension FHIRService {
    /// One entry of a transaction Bundle, checked and ready to apply.
    private struct Entry: Sendable {
        enum Action: Sendable {
            /// Stamped inside the write (`commitTime`), with the id chosen here.
            case create(JSONValue, id: String, condition: ResourceCode?)
            case update(JSONValue, id: String, ifMatch: Int, patientID: String?)
        }
        var type: SupportedResource
        var action: Action
    }

    /// `POST /fhir` with a transaction Bundle (see `postBundle`): every entry is applied, or none is.
    ///
    /// Entries are POST (create, conditional on `ifNoneExist=identifier=...`, so a replayed upload returns
    /// the resource it made the first time) or PUT (update, with `ifMatch`).
    func transaction(_ bundle: JSONValue, preferRepresentation: Bool, info: RequestInfo) async throws(ServerError) -> [UInt8] {
        let rawEntries = bundle["entry"]?.arrayValue ?? []
        guard rawEntries.count <= ServerLimits.transactionEntries else {
            throw .tooCostly(
                "A transaction holds at most \(ServerLimits.transactionEntries) entries; this one has \(rawEntries.count). Send it in parts.")
        }
        let now = clock.now()
        var entries: [Entry] = []
        var issues: [OutcomeIssue] = []
        for (index, raw) in rawEntries.enumerated() {
            let path = "Bundle.entry[\(index)]"
            do throws(ServerError) {
                entries.append(try prepareEntry(raw, path: path, now: now, info: info))
            } catch {
                switch error {
                case .invalid(let outcome): issues.append(contentsOf: outcome.issues)
                case .badRequest(let message, let expression, let code):
                    issues.append(OutcomeIssue(code: code, diagnostics: message, expression: expression ?? path))
                case .notFound(let message):
                    // Refusing the whole transaction as "not found" keeps another patient's existence hidden.
                    throw .notFound("\(path): \(message)")
                default: throw error
                }
            }
        }
        guard issues.isEmpty else { throw .invalid(OperationOutcome(issues)) }

        let prepared = entries
        let results: [WriteResult]
        do {
            let clock = self.clock
            results = try await store.write { db in
                let committedAt = Self.commitTime(after: now, clock: clock)
                var results: [WriteResult] = []
                let memo = TransactionMemo()
                let stamped = prepared.map { entry -> StoredResource? in
                    guard case .create(let resource, let id, _) = entry.action else { return nil }
                    return Self.stamp(resource, type: entry.type, id: id, version: 1, at: committedAt)
                }
                try memo.prepare(creates: zip(prepared, stamped).compactMap { entry, stamped in
                    guard case .create(_, _, let condition) = entry.action, let stamped else { return nil }
                    return (stamped, condition)
                }, db: db)
                for (index, entry) in prepared.enumerated() {
                    do {
                        switch entry.action {
                        case .create(_, _, let condition):
                            guard let stamped = stamped[index] else { continue }
                            results.append(try Self.createOrMatch(stamped, condition: condition, db: db, info: info, now: now, memo: memo))
                        case .update(let resource, let id, let ifMatch, let patientID):
                            results.append(try Self.applyUpdate(resource, type: entry.type, id: id, ifMatch: ifMatch, patientID: patientID, db: db, info: info, now: committedAt))
                            if entry.type == .patient { memo.forget(id) }
                        }
                    } catch ServerError.invalid(let outcome) {
                        // Name the entry, so the client keeps that one aside and sends the rest again.
                        throw ServerError.invalid(outcome.located(at: "Bundle.entry[\(index)].resource", type: entry.type.rawValue))
                    }
                }
                return results
            }
        } catch let error as ServerError {
            throw error
        } catch {
            throw .storage(error)
        }
        return BundleWriter.transactionResponse(results: results, baseURL: info.baseURL, includeResources: preferRepresentation, now: now)
    }

    private func prepareEntry(_ raw: JSONValue, path: String, now: Int64, info: RequestInfo) throws(ServerError) -> Entry {
        guard let request = raw["request"], let method = request["method"]?.stringValue, let url = request["url"]?.stringValue else {
            throw .badRequest("Each entry needs request.method and request.url.", expression: "\(path).request")
        }
        guard let resource = raw["resource"] else {
            throw .badRequest("Each entry needs a resource.", expression: "\(path).resource")
        }
        let parts = url.split(separator: "/").map(String.init)
        guard let typeName = parts.first, let type = SupportedResource(rawValue: typeName) else {
            throw .badRequest("request.url must name a supported resource type.", expression: "\(path).request.url")
        }
        guard resource["resourceType"]?.stringValue == type.rawValue else {
            throw .badRequest("The resource is not a \(type.rawValue) as request.url says.", expression: "\(path).resource.resourceType")
        }
        switch method {
        case "POST":
            guard parts.count == 1 else { throw .badRequest("POST takes a type, not an id.", expression: "\(path).request.url") }
            try AccessPolicy.requireScope(.create, on: type, principal: info.principal)
            // A new Patient may bring an account and an invitation, which a transaction cannot take back.
            guard type != .patient else {
                throw .badRequest("Create a Patient with POST /fhir/Patient, one at a time.", expression: "\(path).request.url", code: "not-supported")
            }
            guard type != .subscription else { throw Self.subscriptionInTransaction(path) }
            guard AccessPolicy.mayCreate(type, principal: info.principal) else {
                throw .badRequest("\(type.rawValue) resources cannot be created through this API.", expression: "\(path).request.method")
            }
            try validate(resource, type: type, pathPrefix: "\(path).resource")
            try checkEntryAccess(resource, type: type, info: info)
            let condition = try request["ifNoneExist"]?.stringValue.map { value throws(ServerError) in
                try Self.parseIfNoneExist(value)
            }
            return Entry(type: type, action: .create(resource, id: UUID().uuidString.lowercased(), condition: condition))
        case "PUT":
            guard parts.count == 2, resource["id"]?.stringValue == parts[1] else {
                throw .badRequest("PUT takes Type/id, and the resource must carry the same id.", expression: "\(path).request.url")
            }
            try AccessPolicy.requireScope(.update, on: type, principal: info.principal)
            guard type != .subscription else { throw Self.subscriptionInTransaction(path) }
            guard AccessPolicy.mayUpdate(type, principal: info.principal) else {
                throw .badRequest("\(type.rawValue) resources cannot be changed through this API.", expression: "\(path).request.method")
            }
            try validate(resource, type: type, pathPrefix: "\(path).resource")
            try checkEntryAccess(resource, type: type, info: info)
            // As for a plain PUT: no blind overwrites of someone else's change.
            guard let ifMatchText = request["ifMatch"]?.stringValue else {
                throw .badRequest(
                    "A PUT entry needs request.ifMatch with the version it changes (W/\"<versionId>\").", expression: "\(path).request.ifMatch",
                    code: "required")
            }
            guard let ifMatch = ETag.version(ifMatchText) else {
                throw .badRequest("request.ifMatch must be a version tag such as W/\"3\".", expression: "\(path).request.ifMatch")
            }
            let patientID = ResourceIndexer.index(resource, type: type, id: parts[1]).patientID
            return Entry(type: type, action: .update(resource, id: parts[1], ifMatch: ifMatch, patientID: patientID))
        default:
            throw .badRequest("Only POST and PUT entries are supported.", expression: "\(path).request.method")
        }
    }

    /// Subscriptions are checked and started one at a time (POST or PUT /fhir/Subscription).
    static func subscriptionInTransaction(_ path: String) -> ServerError {
        .badRequest(
            "Create or change a Subscription with POST or PUT /fhir/Subscription, one at a time.", expression: "\(path).request.url",
            code: "not-supported")
    }

    private func checkEntryAccess(_ resource: JSONValue, type: SupportedResource, info: RequestInfo) throws(ServerError) {
        guard type.isPatientData else { return }
        let patientID = ResourceIndexer.index(resource, type: type, id: "").patientID
        guard let patientID, AccessPolicy.mayWrite(type, patientID: patientID, principal: info.principal) else {
            throw .notFound("Patient/\(patientID ?? "?") was not found.")
        }
    }
}

extension OperationOutcome {
    /// The same issues with `Type.path` expressions rewritten under a transaction entry's path.
    func located(at prefix: String, type: String) -> OperationOutcome {
        OperationOutcome(issues.map { issue in
            guard let expression = issue.expression, !expression.hasPrefix("Bundle.") else { return issue }
            let rest = expression.hasPrefix(type) ? String(expression.dropFirst(type.count)) : "." + expression
            return OutcomeIssue(severity: issue.severity, code: issue.code, diagnostics: issue.diagnostics, expression: prefix + rest)
        })
    }
}
