// LayerNormFastPath alone, on one thread, rows × d (d = 64 by default) in L2 at 2048 rows:
// the median and fastest of `reps` samples of 20 calls, forward or (with a fourth argument)
// backward, and a hash of every output bit so two builds of LayerNormFastPath.swift can be
// compared. Not part of the build; the package's release flags:
//   F=Sources/ARMMTGPU/Backend/CPU
//   swiftc -Ounchecked -wmo -target-cpu haswell -module-name M -parse-as-library scripts/experiments/layernorm_bench.swift \
//       $F/Fast/LayerNormFastPath.swift $F/Fast/VectorMath.swift $F/Fast/RowVectors.swift $F/CPUParallel.swift -o /tmp/lnb
//   /tmp/lnb 2048 41          # forward, d = 64
//   /tmp/lnb 2048 41 61 bwd   # backward, d = 61
import Foundation

@main
enum LayerNormBench {
    static func main() {
        let args = CommandLine.arguments
        guard args.count >= 3, let rows = Int(args[1]), let reps = Int(args[2]), rows > 0, reps > 0 else {
            print("usage: lnb ROWS REPS [D] [bwd]"); exit(2)
        }
        let d = args.count > 3 ? Int(args[3]) ?? 64 : 64, bwd = args.count > 4
        func buf(_ n: Int, _ f: (Int) -> Float) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            for i in 0..<n { p[i] = f(i) }
            return p
        }
        let x = buf(rows * d) { Float(sin(Double($0) * 0.37)) + 0.1 }, y = buf(rows * d) { _ in 0 }
        let dy = buf(rows * d) { Float(cos(Double($0) * 0.21)) }, dx = buf(rows * d) { _ in 0 }
        let g = buf(d) { 1 + 0.01 * Float($0) }, b = buf(d) { 0.02 * Float($0) }
        let dg = buf(d) { _ in 0 }, db = buf(d) { _ in 0 }
        let m = buf(rows) { _ in 0 }, r = buf(rows) { _ in 0 }
        LayerNormFastPath.forward(rows: rows, d: d, epsilon: 1e-5, x: x, gamma: g, beta: b, y: y, mean: m, rstd: r, parallel: false)
        var times = [Double]()
        for _ in 0..<reps {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<20 {
                if bwd {
                    LayerNormFastPath.backward(rows: rows, d: d, dy: dy, x: x, gamma: g, mean: m, rstd: r, dx: dx,
                                               dGamma: dg, dBeta: db, parallel: false)
                } else {
                    LayerNormFastPath.forward(rows: rows, d: d, epsilon: 1e-5, x: x, gamma: g, beta: b, y: y, mean: m,
                                              rstd: r, parallel: false)
                }
            }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 20 / 1000)
        }
        times.sort()
        var h: UInt64 = 0
        for i in 0..<rows * d { h = h &* 31 &+ UInt64(y[i].bitPattern) &+ UInt64(dx[i].bitPattern) }
        for i in 0..<rows { h = h &* 31 &+ UInt64(r[i].bitPattern) &+ UInt64(m[i].bitPattern) }
        for i in 0..<d { h = h &* 31 &+ UInt64(dg[i].bitPattern) &+ UInt64(db[i].bitPattern) }
        print(String(format: "median %.1f µs  min %.1f  hash %016llx", times[reps / 2], times[0], h))
    }
}
