import ArgumentParser
import DeskServer
import EventLog
import Foundation
import Hummingbird
import Logging
import MailDesk

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the help desk: the HTTP API on Hummingbird, on the LMDB log in the data folder.",
        discussion: """
        On an empty data folder it creates the account and an admin and prints, once, the admin's token \
        (--admin-token or HELPDESK_ADMIN_TOKEN sets it instead); --demo also loads a generated history. \
        Options also come from HELPDESK_HOST, HELPDESK_PORT, HELPDESK_MAX_BODY. SIGTERM or SIGINT: stop \
        accepting, finish in-flight commands, close the log.
        """)
    @OptionGroup var data: DataOptions
    @Option(help: "Address to listen on (default $HELPDESK_HOST or 127.0.0.1).") var host: String?
    @Option(help: "Port (default $HELPDESK_PORT or 8080).") var port: Int?
    @Option(help: "The first admin's token on an empty folder (default $HELPDESK_ADMIN_TOKEN, else random).") var adminToken: String?
    @Option(help: "Largest request body in bytes (default $HELPDESK_MAX_BODY or 1048576).") var maxBody: Int?
    @Flag(help: "On an empty folder, also generate a demo history (2,000 tickets).") var demo = false
    @Option(help: "A JSON config file: {\"host\", \"port\", \"maxBody\", \"adminToken\", \"logLevel\"}; flags and environment variables win over it.")
    var config: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default info; debug logs every request).")
    var logLevel: String?
    @Option(help: "Outgoing mail: the sendmail-compatible command (default $HELPDESK_SENDMAIL or '/usr/sbin/sendmail -t -i'; 'off' keeps mail in the outbox; off with --demo unless given).")
    var sendmail: String?
    @Option(help: "The desk's sending address (default $HELPDESK_MAIL_FROM or support@<mail domain>).") var mailFrom: String?
    @Option(help: "The domain of outgoing Message-IDs (default $HELPDESK_MAIL_DOMAIN or helpdesk.local).") var mailDomain: String?
    @Option(help: "Largest incoming message in bytes (default 52428800).") var maxMessage: Int?
    @Option(help: "Largest attachment kept from incoming mail or an upload, in bytes (default 26214400).") var maxAttachment: Int?
    @Flag(help: "Session cookies without the Secure attribute (only for plain http beyond localhost; browsers send Secure cookies to http://localhost and https).")
    var insecureCookies = false

    struct ConfigFile: Decodable {
        var host: String?
        var port: Int?
        var maxBody: Int?
        var adminToken: String?
        var logLevel: String?
        var sendmail: String?
        var mailFrom: String?
        var mailDomain: String?
        var maxMessage: Int?
        var maxAttachment: Int?
    }

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        var file = ConfigFile()
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else { throw ValidationError("cannot read config file \(config)") }
            do { file = try JSONDecoder().decode(ConfigFile.self, from: data) } catch {
                throw ValidationError("config file \(config) is not valid: \(error)")
            }
        }
        var options = ServerOptions(dataDirectory: data.url)
        options.host = host ?? env["HELPDESK_HOST"] ?? file.host ?? "127.0.0.1"
        options.port = port ?? env["HELPDESK_PORT"].flatMap(Int.init) ?? file.port ?? 8080
        options.maxBodyBytes = maxBody ?? env["HELPDESK_MAX_BODY"].flatMap(Int.init) ?? file.maxBody ?? 1 << 20
        options.adminToken = adminToken ?? env["HELPDESK_ADMIN_TOKEN"] ?? file.adminToken
        let logLevel = self.logLevel ?? file.logLevel ?? "info"
        options.demoTickets = demo ? 2000 : nil
        options.mailDomain = mailDomain ?? env["HELPDESK_MAIL_DOMAIN"] ?? file.mailDomain ?? "helpdesk.local"
        let sendmailCommand = sendmail ?? env["HELPDESK_SENDMAIL"] ?? file.sendmail ?? (demo ? "off" : "/usr/sbin/sendmail -t -i")
        if sendmailCommand == "off" {
            options.mailSender = nil
        } else {
            var m = MailSenderOptions()
            m.sendmail = sendmailCommand.split(separator: " ").map(String.init)
            m.fromAddress = mailFrom ?? env["HELPDESK_MAIL_FROM"] ?? file.mailFrom ?? "support@\(options.mailDomain)"
            options.mailSender = m
        }
        options.secureCookies = !insecureCookies
        if let v = maxMessage ?? file.maxMessage { options.mailLimits.maxMessageBytes = v }
        if let v = maxAttachment ?? file.maxAttachment { options.mailLimits.maxAttachmentBytes = v }
        var logger = Logger(label: "helpdesk")
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        logger.logLevel = level
        let service: DeskService
        let firstToken: String?
        do {
            (service, firstToken) = try await DeskService.open(options, logger: logger)
        } catch let e as EventLogError {
            fail(e.message)
        }
        // Written straight to the file descriptor: the token and the URL must reach a pipe or a log at
        // once, not sit in a buffer while the server runs.
        func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
        if let firstToken {
            say("""
            New help desk in \(data.url.path).
            Admin token (shown once; keep it): \(firstToken)
            Try: curl -H 'Authorization: Bearer \(firstToken)' http://\(options.host):\(options.port)/me
            """)
        }
        say("helpdesk serving http://\(options.host):\(options.port) (data: \(data.url.path), log head \(service.store.committedHead))")
        do {
            try await service.application(logger: logger).runService()
        } catch {
            service.close()
            throw error
        }
        service.close()
        say("helpdesk stopped cleanly; log head \(service.store.committedHead)")
    }
}
