import BedsideCore
import Foundation

extension ServerAdministration {
    /// Registers a backend client (SMART Backend Services) with its public keys and the system scopes
    /// it may be granted; returns its new `client_id`.
    public func addClient(name: String, jwks: String, scopes: String) async throws -> BackendClient {
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 200, !name.contains(where: { $0.isNewline }) else {
            throw AdministrationError("--name must be one line of 1 to 200 characters (the system's name, as the audit shows it).")
        }
        do {
            _ = try ClientKeys.validate(jwks)
        } catch {
            throw AdministrationError("The JWKS cannot be used: \(error.description)")
        }
        let parsed: SMARTScopes
        do {
            parsed = try SMARTScopes.parse(scopes, strict: true)
        } catch {
            throw AdministrationError("--scope: \(error.description)")
        }
        guard !parsed.scopes.isEmpty else {
            throw AdministrationError("--scope names no scope; give system scopes such as \"system/Observation.rs system/Patient.cruds\".")
        }
        let client = BackendClient(
            id: UUID().uuidString.lowercased(), name: name, jwks: jwks, scopes: parsed.scopes.map(\.text).joined(separator: " "),
            createdAt: clock.now())
        let event = auditEvent("client-add", id: client.id)
        try await store.write { db in
            try db.insert(client)
            try db.append([event])
        }
        return client
    }

    public func clients() async throws -> [BackendClient] {
        try await store.read { db in try db.backendClients() }
    }

    /// Stops a client from getting tokens and ends the tokens it holds; `enable` lets it in again.
    public func setClientDisabled(_ disabled: Bool, clientID: String) async throws {
        let now = clock.now()
        let event = auditEvent(disabled ? "client-disable" : "client-enable", id: clientID)
        try await store.write { db in
            guard try db.backendClient(id: clientID) != nil else { throw AdministrationError("There is no client \(clientID).") }
            try db.setClientDisabled(id: clientID, at: disabled ? now : nil)
            try db.append([event])
        }
    }
}
