import ArgumentParser
import BedsideServerKit
import Foundation

/// Backend clients: the systems (an EMR) that call the API on their own behalf, by SMART Backend Services.
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "Manage backend clients (SMART Backend Services: an EMR's own access).",
        subcommands: [AddClientCommand.self, ListClientsCommand.self, DisableClientCommand.self, EnableClientCommand.self])
}

struct AddClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Register a backend client; prints its client_id alone on standard output.",
        discussion: """
            The JWKS file holds the client's public keys (EC P-384 for ES384, or RSA of 2048+ bits for RS384), each with a kid. \
            Scopes are SMART system scopes, e.g. "system/Observation.rs system/Patient.cruds" or "system/*.read".
            """)

    @OptionGroup var options: ServerOptions

    @Option(help: "The system's name, as the audit shows it.")
    var name: String

    @Option(name: .customLong("jwks-file"), help: "JSON Web Key Set with the client's public keys.", completion: .file(extensions: ["json"]))
    var jwksFile: String

    @Option(help: "Space-separated SMART system scopes the client may be granted.")
    var scope: String

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: jwksFile) else { throw ValidationError("Cannot read \(jwksFile).") }
        let store = try await options.openServerStore()
        try await administering {
            let client = try await ServerAdministration(store: store).addClient(name: name, jwks: String(decoding: data, as: UTF8.self), scopes: scope)
            print(client.id)
        }
    }
}

struct ListClientsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List backend clients: id, name, scopes, state.")

    @OptionGroup var options: ServerOptions

    func run() async throws {
        let store = try await options.openServerStore()
        for client in try await ServerAdministration(store: store).clients() {
            let state = client.disabledAt == nil ? "active" : "disabled"
            print("\(client.id)  \(state.padding(toLength: 8, withPad: " ", startingAt: 0))  \(client.name)  [\(client.scopes)]")
        }
    }
}

struct DisableClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable", abstract: "Stop a backend client from getting tokens; the tokens it holds end at once.")

    @OptionGroup var options: ServerOptions

    @Argument(help: "The client_id.")
    var clientID: String

    func run() async throws {
        try await setClient(disabled: true, clientID: clientID, options: options, done: "Client \(clientID) is disabled; its tokens have ended.")
    }
}

struct EnableClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enable", abstract: "Let a disabled backend client get tokens again.")

    @OptionGroup var options: ServerOptions

    @Argument(help: "The client_id.")
    var clientID: String

    func run() async throws {
        try await setClient(disabled: false, clientID: clientID, options: options, done: "Client \(clientID) is enabled.")
    }
}

/// `client disable` and `client enable`: one change, then what was done.
private func setClient(disabled: Bool, clientID: String, options: ServerOptions, done: String) async throws {
    let store = try await options.openServerStore()
    try await administering {
        try await ServerAdministration(store: store).setClientDisabled(disabled, clientID: clientID)
        print(done)
    }
}
