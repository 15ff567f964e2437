import ARMMTGPU
import ArgumentParser
import Foundation

struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check every op on a device against the Double CPU reference; exits non-zero on any failure.")

    @OptionGroup var deviceOptions: DeviceOptions

    @Flag(name: .long, help: "Tiny shapes only (seconds on any device, and under oclgrind).")
    var quick = false

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Option(name: .long, help: "Only ops whose name contains this text.")
    var op: String?

    func run() throws {
        let selector = try deviceOptions.selector()
        let backend = try selector.makeBackend()
        if let ocl = backend as? OpenCLBackend { try ocl.compileAll() }
        let cases = SelfTest.cases().filter { (!quick || $0.quick) && (op == nil || $0.op.contains(op!)) }
        let rows = SelfTest.run(cases, on: backend) { row in
            if !json {
                let verdict = row.passed ? "PASS" : "FAIL"
                let detail = row.detail.map { "  " + $0 } ?? ""
                print(row.op.padding(toLength: 18, withPad: " ", startingAt: 0)
                      + row.shape.padding(toLength: 52, withPad: " ", startingAt: 0)
                      + String(format: " maxabs %9.3e  maxrel %9.3e  ", row.maxAbsError, row.maxRelError)
                      + verdict + detail)
            }
        }
        let failed = rows.filter { !$0.passed }.count
        if json {
            struct Report: Encodable { var device: String; var rows: [CheckRow]; var passed: Int; var failed: Int }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let report = Report(device: backend.name, rows: rows, passed: rows.count - failed, failed: failed)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("device: \(backend.name)")
            print("\(rows.count - failed) passed, \(failed) failed")
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
