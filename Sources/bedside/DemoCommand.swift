import ArgumentParser
import BedsideApp
import BedsideCore
import BedsideServerKit
import BedsideSync
import BedsideUI
import BedsideVault
import Foundation
import Logging

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Try Bedside: starts a reference server on loopback with demo data, logs a demo patient in, opens the app.",
        discussion: "Everything lives in a temporary directory that is removed when you quit. Your own account is not touched.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "Which demo patient to log in as (see the list printed at start).")
    var user = "marie@demo.bedside.test"

    @Flag(help: "Start the server and print the logins, then wait (Ctrl-C stops it); do not open the app.")
    var serverOnly = false

    func run() async throws {
        ProcessHardening.apply()
        var configuration = try options.resolve()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bedside-demo-\(UUID().uuidString.prefix(8))")
        defer { try? SecureFiles.emptyDirectory(root); rmdir(root.path) }
        var serverConfiguration = ServerConfiguration(dataDirectory: root.appendingPathComponent("server"))
        serverConfiguration.port = 0
        let store = try serverConfiguration.openStore()
        let t = Localizer(configuration.language)
        complain(t.text(.cliDemoPreparing))
        let logins = try await DemoSeeder(administration: ServerAdministration(store: store)).seed()
        var logger = Logger(label: "bedside-demo-server")
        logger.logLevel = .error
        let server = try await BedsideServer(configuration: serverConfiguration, store: store, logger: logger).start()
        let url = "https://127.0.0.1:\(server.port)"
        let caFile = serverConfiguration.tlsDirectory.appendingPathComponent("ca.pem").path
        say(t.text(.cliDemoServer, url, caFile, serverConfiguration.mailDirectory.path + "/new/"))
        say(t.text(.cliDemoLogins))
        for login in logins {
            say("  \(login.role.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(login.email.padding(toLength: 30, withPad: " ", startingAt: 0)) \(login.password)  \(login.name)\(login.condition.map { ", \($0)" } ?? "")")
        }
        if serverOnly {
            complain(t.text(.cliDemoServing))
            await waitForInterrupt()
            await server.stop()
            return
        }
        guard let login = logins.first(where: { $0.email == user && $0.role == .patient }) else {
            await server.stop()
            throw ValidationError("\(user) is not a demo patient.")
        }
        say(t.text(.cliDemoLoggingIn, login.name))
        configuration.dataDirectory = root.appendingPathComponent("client")
        configuration.server = url
        configuration.transport.caFile = caFile
        let core = try await claimedCore(configuration)
        var session: SessionInfo?
        if case .codeRequested = await core.perform(.requestCode(server: url, email: login.email, password: login.password)).first,
            let code = MaildirMailer(directory: serverConfiguration.mailDirectory).latestLoginCode(to: login.email)
        {
            for case .loggedIn(let info) in await core.perform(.verifyCode(code: code)) { session = info }
        }
        guard let session else {
            await server.stop()
            complain(t.text(.cliDemoLoginFailed))
            throw Exit.failure
        }
        do {
            try await runTerminal(configuration: configuration, core: core, startingWith: [.loggedIn(session)])
        } catch {
            await server.stop()
            throw error
        }
        await core.lock()
        await server.stop()
        say(t.text(.cliDemoFinished))
    }

    func waitForInterrupt() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            signal(SIGINT, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .main)
            source.setEventHandler { continuation.resume() }
            source.resume()
            DemoSignal.keep(source)
        }
    }
}

enum DemoSignal {
    nonisolated(unsafe) static var source: DispatchSourceSignal?
    static func keep(_ source: DispatchSourceSignal) { self.source = source }
}
