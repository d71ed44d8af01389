import BedsideCore
import Foundation

/// The three fields of the login screen.
public struct LoginForm: Sendable, Equatable {
    public var server: TextField
    public var email: TextField
    public var password = TextField(masked: true, maxLength: 256)
    public var focus = 0

    public init(server: String, email: String = "") {
        self.server = TextField(server, maxLength: 300)
        self.email = TextField(email, maxLength: 254)
        focus = server.isEmpty ? 0 : (email.isEmpty ? 1 : 2)
    }
}
