/// CPU reference for the elementwise family, generic over the scalar (`Float` for the CPU
/// backend, `Double` for gradient checks and the self-test). Semantics: `ElementwiseOps`.
public enum ElementwiseReference {
    @inline(__always) static func activation<T: ReferenceScalar>(_ a: BiasActivation, _ u: T) -> T {
        switch a {
        case .relu: return u > 0 ? u : 0
        case .gelu: return T(0.5) * u * (1 + T.erf(u * T(0.70710678118654752440)))
        }
    }

    @inline(__always) static func derivative<T: ReferenceScalar>(_ a: BiasActivation, _ u: T) -> T {
        switch a {
        case .relu: return u > 0 ? 1 : 0
        case .gelu:
            let cdf = T(0.5) * (1 + T.erf(u * T(0.70710678118654752440)))
            return cdf + u * T(0.39894228040143267794) * T.exp(T(-0.5) * u * u)
        }
    }

    public static func biasActivationForward<T: ReferenceScalar>(_ p: BiasActivationParameters, x: UnsafePointer<T>,
                                                                      bias: UnsafePointer<T>?, y: UnsafeMutablePointer<T>) {
        for i in 0..<p.rows {
            let xr = x + i * p.cols, yr = y + i * p.cols
            if let bias {
                for j in 0..<p.cols { yr[j] = activation(p.activation, xr[j] + bias[j]) }
            } else {
                for j in 0..<p.cols { yr[j] = activation(p.activation, xr[j]) }
            }
        }
    }

    public static func biasActivationBackward<T: ReferenceScalar>(_ p: BiasActivationParameters, dy: UnsafePointer<T>,
                                                                       x: UnsafePointer<T>, bias: UnsafePointer<T>?,
                                                                       dx: UnsafeMutablePointer<T>, dBias: UnsafeMutablePointer<T>?) {
        dBias?.update(repeating: 0, count: p.cols)
        for i in 0..<p.rows {
            let xr = x + i * p.cols, gr = dy + i * p.cols, dxr = dx + i * p.cols
            for j in 0..<p.cols {
                let u = bias.map { xr[j] + $0[j] } ?? xr[j]
                let g = gr[j] * derivative(p.activation, u)
                dxr[j] = g
                dBias?[j] += g
            }
        }
    }

    public static func add<T: BinaryFloatingPoint>(count: Int, a: UnsafePointer<T>, b: UnsafePointer<T>, out: UnsafeMutablePointer<T>) {
        for i in 0..<count { out[i] = a[i] + b[i] }
    }

    public static func scaleAdd<T: BinaryFloatingPoint>(count: Int, alpha: T, x: UnsafePointer<T>, y: UnsafeMutablePointer<T>) {
        for i in 0..<count { y[i] = alpha * x[i] + y[i] }
    }

    public static func multiply<T: BinaryFloatingPoint>(count: Int, a: UnsafePointer<T>, b: UnsafePointer<T>,
                                                        out: UnsafeMutablePointer<T>, accumulate: Bool) {
        if accumulate {
            for i in 0..<count { out[i] = a[i] * b[i] + out[i] }
        } else {
            for i in 0..<count { out[i] = a[i] * b[i] }
        }
    }
}
