// swift-tools-version: 6.1
import PackageDescription

/// The executables (`helpdesk`, `helpdesk-bench`) use tcmalloc (Debian's `libtcmalloc-minimal4`, installed
/// with LMDB — see README) instead of glibc's malloc: the projections' fold and the row writer allocate
/// and free millions of small objects from two threads, and a rebuild of 5M events ran ~25 % faster with
/// ~100 MB less heap under it (README, performance). The tests keep the system allocator.
let fastMalloc: [LinkerSetting] = [.unsafeFlags(["-Xlinker", "-l:libtcmalloc_minimal.so.4"], .when(platforms: [.linux]))]

let package = Package(
    name: "Helpdesk",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "helpdesk", targets: ["helpdesk"]),
        .executable(name: "helpdesk-bench", targets: ["helpdesk-bench"]),
        .library(name: "EventLog", targets: ["EventLog"]),
        .library(name: "SupportDesk", targets: ["SupportDesk"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        // LMDB from Debian's liblmdb-dev, wrapped as GRDB wraps SQLite.
        .systemLibrary(name: "CLMDB", path: "Sources/CLMDB", pkgConfig: "lmdb",
                       providers: [.apt(["liblmdb-dev"])]),
        // The generic append-only log: knows nothing about tickets.
        .target(name: "EventLog",
                dependencies: ["CLMDB", .product(name: "Crypto", package: "swift-crypto")],
                path: "Sources/EventLog"),
        // Business calendars and business-time maths (R19), pure.
        .target(name: "BusinessTime", path: "Sources/BusinessTime"),
        // The payroll formula language (R22, R23), pure.
        .target(name: "PayrollFormula", path: "Sources/PayrollFormula"),
        // RFC 5322 / MIME parsing for the e-mail channel, pure.
        .target(name: "Mail", path: "Sources/Mail"),
        // The help-desk domain: events, commands, state and rules, pure (no I/O, no clock).
        .target(name: "SupportDesk", dependencies: ["BusinessTime", "PayrollFormula"], path: "Sources/SupportDesk"),
        // Runs the domain against the log: the command processor, the escalation timer, the generator.
        .target(name: "DeskEngine", dependencies: ["SupportDesk", "EventLog"], path: "Sources/DeskEngine"),
        // Read models and reports rebuilt from the log (top-level folder, as the design card says).
        .target(name: "Projections", dependencies: ["SupportDesk", "EventLog", "BusinessTime", "PayrollFormula",
                                                   .product(name: "HeapModule", package: "swift-collections")],
                path: "Projections"),
        // The e-mail channel on top of the desk: intake and threading, the blob store, the mail sender.
        .target(name: "MailDesk",
                dependencies: ["Mail", "SupportDesk", "DeskEngine", "Projections", "EventLog",
                               .product(name: "Crypto", package: "swift-crypto")],
                path: "Sources/MailDesk"),
        // The HTTP service: the help desk as a running server (Hummingbird 2).
        .target(name: "DeskServer",
                dependencies: ["SupportDesk", "DeskEngine", "Projections", "EventLog", "Mail", "MailDesk", "BusinessTime",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "HTTPTypes", package: "swift-http-types"),
                               .product(name: "Metrics", package: "swift-metrics"),
                               .product(name: "Prometheus", package: "swift-prometheus"),
                               .product(name: "Mustache", package: "swift-mustache"),
                               .product(name: "Crypto", package: "swift-crypto")],
                path: "Sources/DeskServer"),
        // The one command-line tool.
        .executableTarget(name: "helpdesk",
                          dependencies: ["EventLog", "SupportDesk", "DeskEngine", "Projections", "DeskServer", "MailDesk",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Tools/helpdesk",
                          linkerSettings: fastMalloc),
        .executableTarget(name: "helpdesk-bench",
                          dependencies: ["EventLog", "SupportDesk", "DeskEngine", "Projections", "DeskServer", "Mail", "MailDesk",
                                         .product(name: "HummingbirdTesting", package: "hummingbird"),
                                         .product(name: "HTTPTypes", package: "swift-http-types"),
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Tools/helpdesk-bench",
                          linkerSettings: fastMalloc),
        // A child process for the crash-safety test: appends and prints acknowledged sequences until killed.
        .executableTarget(name: "eventlog-crash-child", dependencies: ["EventLog"], path: "Tests/CrashChild"),
        .testTarget(name: "EventLogTests",
                    dependencies: ["EventLog", "eventlog-crash-child", "helpdesk"],
                    path: "Tests/EventLogTests"),
        .testTarget(name: "BusinessTimeTests", dependencies: ["BusinessTime"], path: "Tests/BusinessTimeTests"),
        .testTarget(name: "ProjectionsTests", dependencies: ["Projections", "DeskEngine", "SupportDesk", "EventLog", "BusinessTime"],
                    path: "Tests/ProjectionsTests"),
        .testTarget(name: "SupportDeskTests", dependencies: ["SupportDesk", "BusinessTime", "PayrollFormula"], path: "Tests/SupportDeskTests"),
        .testTarget(name: "DeskEngineTests", dependencies: ["DeskEngine", "SupportDesk", "EventLog", "BusinessTime"],
                    path: "Tests/DeskEngineTests"),
        .testTarget(name: "DeskServerTests",
                    dependencies: ["DeskServer", "SupportDesk", "EventLog", "helpdesk", "Mail", "MailDesk", "BusinessTime", "DeskEngine", "Projections",
                                   .product(name: "HummingbirdTesting", package: "hummingbird"),
                                   .product(name: "HTTPTypes", package: "swift-http-types")],
                    path: "Tests/DeskServerTests"),
        .testTarget(name: "MailTests", dependencies: ["Mail"], path: "Tests/MailTests", exclude: ["Fixtures"]),
        .testTarget(name: "MailDeskTests",
                    dependencies: ["MailDesk", "Mail", "SupportDesk", "DeskEngine", "Projections", "EventLog",
                                   .product(name: "Crypto", package: "swift-crypto")],
                    path: "Tests/MailDeskTests"),
        .testTarget(name: "PayrollFormulaTests", dependencies: ["PayrollFormula"], path: "Tests/PayrollFormulaTests"),
    ]
)
