// swift-tools-version: 6.1
// Bedside: remote patient monitoring for the terminal. See ../shared/DESIGN.md for the layout.
import PackageDescription

let package = Package(
    name: "Bedside",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bedside", targets: ["bedside"]),
        .executable(name: "bedside-server", targets: ["bedside-server"]),
        .executable(name: "bedside-bench", targets: ["bedside-bench"]),
        // Fuzz targets (Tests/Fuzz/README.md): replay tools in a normal build, libFuzzer binaries with
        // -sanitize=fuzzer -DFUZZING. Three, so each libFuzzer build compiles only the stack it needs.
        .executable(name: "bedside-fuzz", targets: ["bedside-fuzz"]),
        .executable(name: "bedside-fuzz-client", targets: ["bedside-fuzz-client"]),
        .executable(name: "bedside-fuzz-server", targets: ["bedside-fuzz-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-certificates", exact: "1.21.1"),
        // swift-certificates' own dependency, named because the dev CA writes IP-address SANs with its types.
        .package(url: "https://github.com/apple/swift-asn1", exact: "1.7.4"),
        // Hummingbird's own lifecycle library, named so the server can shut down gracefully on request.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        // Hummingbird's own networking, named because the server guards each connection with a handler
        // of its own (deadlines for the handshake, headers, body and idle time; a cap per address), and
        // for NIOEmbedded's channel: the server fuzz target answers requests in-process, without a socket.
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", exact: "1.35.2"),
        // SMART Backend Services: the EMR's client assertions (ES384/RS384 JWTs checked against its JWKS).
        // JOSE is easy to get subtly wrong by hand; jwt-kit is swift-crypto based and well kept.
        .package(url: "https://github.com/vapor/jwt-kit", exact: "5.8.0"),
        // PostgreSQL for several server instances as one (--database): pooled connections, the binary
        // protocol, parameterised statements. A wire protocol is far too much to write by hand.
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
    ],
    targets: [
        // C libraries from Debian.
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // prctl and friends, which Swift cannot call directly.
        .target(name: "CBedsideSystem"),

        // Command-line helpers shared by the executables (secret prompts).
        .target(name: "BedsideConsole"),

        // The pure domain: measurement kinds, FHIR JSON, validation. No I/O.
        .target(name: "BedsideCore"),

        // Key derivation, key wrapping, AES-256-GCM sealing, blind indexes, zeroising, shredding.
        .target(
            name: "BedsideVault",
            dependencies: [
                "BedsideCore",
                "CBedsideSystem",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),

        // The client's database (GRDB): sealed columns, the outbox, history queries.
        .target(
            name: "BedsideStore",
            dependencies: ["BedsideCore", "BedsideVault", .product(name: "GRDB", package: "GRDB.swift")]
        ),

        // The pure state machine of the terminal client: screens, views, themes. Imports Core only.
        .target(
            name: "BedsideUI",
            dependencies: ["BedsideCore", .product(name: "TOMLKit", package: "TOMLKit")]
        ),

        // Client transport (libcurl, fail-closed TLS); the sync engine grows here.
        .target(name: "BedsideSync", dependencies: ["BedsideCore", "BedsideStore", "CCurl"]),

        // The client runtime: runs the UI's effects against vault, store and server.
        .target(
            name: "BedsideApp",
            dependencies: [
                "BedsideCore", "BedsideVault", "BedsideStore", "BedsideSync", "BedsideUI", "CBedsideSystem",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),

        // That protocol over ncurses: set-up and teardown, signals, keys, Frame diff to curses.
        .systemLibrary(name: "CNcursesw", path: "Sources/CNcursesw", providers: [.apt(["libncursesw5-dev"])]),
        .target(name: "BedsideTerminal", dependencies: ["BedsideUI", "BedsideApp", "CNcursesw"]),

        // The screen protocol over a virtual screen and clock, the script language and its runner.
        .target(name: "BedsideHeadless", dependencies: ["BedsideCore", "BedsideUI", "BedsideApp"]),

        // The reference FHIR R4 server as a library.
        .target(
            name: "BedsideServerKit",
            dependencies: [
                "BedsideCore",
                "CCurl",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .executableTarget(
            name: "bedside",
            dependencies: [
                "BedsideCore", "BedsideVault", "BedsideStore", "BedsideSync", "BedsideUI", "BedsideApp", "BedsideTerminal",
                "BedsideHeadless", "BedsideConsole",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "bedside-server",
            dependencies: [
                "BedsideServerKit",
                "BedsideConsole",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "bedside-bench",
            dependencies: [
                "BedsideServerKit",
                "BedsideHeadless",
                "BedsideSync",
                "BedsideApp",
                "BedsideStore",
                "BedsideUI",
                "BedsideVault",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                // `export` plays an EMR the way the tests do (`TestEMR`: ES384 client assertions).
                "BedsideTestSupport",
            ]
        ),

        // Fuzzing: the replay/libFuzzer driver, and one binary per stack (Core+UI; the client runtime; the server).
        .target(name: "BedsideFuzzSupport", dependencies: ["BedsideCore"]),
        .executableTarget(name: "bedside-fuzz", dependencies: ["BedsideFuzzSupport", "BedsideCore", "BedsideUI"]),
        .executableTarget(
            name: "bedside-fuzz-client", dependencies: ["BedsideFuzzSupport", "BedsideCore", "BedsideApp", "BedsideHeadless"]),
        .executableTarget(
            name: "bedside-fuzz-server",
            dependencies: [
                "BedsideFuzzSupport", "BedsideCore", "BedsideServerKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),

        // The real server on loopback, for the test targets that need one.
        .target(
            name: "BedsideTestSupport", dependencies: ["BedsideCore", "BedsideServerKit", .product(name: "JWTKit", package: "jwt-kit")],
            path: "Tests/BedsideTestSupport"),
        .testTarget(name: "BedsideCoreTests", dependencies: ["BedsideCore"]),
        .testTarget(name: "BedsideUITests", dependencies: ["BedsideUI"]),
        .testTarget(name: "BedsideVaultTests", dependencies: ["BedsideVault", "CBedsideSystem"]),
        .testTarget(name: "BedsideStoreTests", dependencies: ["BedsideStore"]),
        .testTarget(
            name: "BedsideSyncTests",
            dependencies: [
                "BedsideSync", "BedsideStore", "BedsideVault", "BedsideServerKit", "BedsideTestSupport", "bedside",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(
            name: "BedsideHeadlessTests",
            dependencies: ["BedsideHeadless", "BedsideApp", "BedsideServerKit", "BedsideSync", "BedsideVault", "BedsideTestSupport"]
        ),
        .testTarget(
            name: "BedsideServerKitTests",
            dependencies: [
                "BedsideServerKit", "BedsideSync", "BedsideTestSupport", "bedside-server",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            resources: []
        ),
    ]
)
