;; The demo model's matrix product in WebAssembly SIMD128: out[r][o] = sum_i x[r][i] * w[o][i] for
;; `rows` rows of x times a row-major [outDim][inDim] matrix w, all float32 in this module's memory
;; (byte addresses). inDim is a multiple of 4. Four outputs at a time share each load of x; each
;; output sums four f32 lanes, added together once at the end.
(module
  (import "env" "memory" (memory 1))

  (func (export "matmul") (param $out i32) (param $x i32) (param $rows i32) (param $w i32) (param $outDim i32) (param $inDim i32)
    (local $rowBytes i32) (local $r i32) (local $o i32) (local $i i32) (local $xr i32) (local $w0 i32)
    (local $xv v128) (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $to i32)
    (local.set $rowBytes (i32.shl (local.get $inDim) (i32.const 2)))
    (block $rowsDone
      (loop $eachRow
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $xr (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowBytes))))
        (local.set $to (i32.add (local.get $out) (i32.shl (i32.mul (local.get $r) (local.get $outDim)) (i32.const 2))))
        (local.set $o (i32.const 0))
        (block $quadsDone
          (loop $quad
            (br_if $quadsDone (i32.gt_u (i32.add (local.get $o) (i32.const 4)) (local.get $outDim)))
            (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $o) (local.get $rowBytes))))
            (local.set $a (v128.const i32x4 0 0 0 0))
            (local.set $b (v128.const i32x4 0 0 0 0))
            (local.set $c (v128.const i32x4 0 0 0 0))
            (local.set $d (v128.const i32x4 0 0 0 0))
            (local.set $i (i32.const 0))
            (loop $dot
              (local.set $xv (v128.load (i32.add (local.get $xr) (local.get $i))))
              (local.set $a (f32x4.add (local.get $a)
                (f32x4.mul (local.get $xv) (v128.load (i32.add (local.get $w0) (local.get $i))))))
              (local.set $b (f32x4.add (local.get $b)
                (f32x4.mul (local.get $xv)
                  (v128.load (i32.add (i32.add (local.get $w0) (local.get $rowBytes)) (local.get $i))))))
              (local.set $c (f32x4.add (local.get $c)
                (f32x4.mul (local.get $xv)
                  (v128.load (i32.add (i32.add (local.get $w0) (i32.shl (local.get $rowBytes) (i32.const 1))) (local.get $i))))))
              (local.set $d (f32x4.add (local.get $d)
                (f32x4.mul (local.get $xv)
                  (v128.load (i32.add (i32.add (local.get $w0) (i32.mul (local.get $rowBytes) (i32.const 3))) (local.get $i))))))
              (local.set $i (i32.add (local.get $i) (i32.const 16)))
              (br_if $dot (i32.lt_u (local.get $i) (local.get $rowBytes))))
            ;; [a b c d] -> [sum a, sum b, sum c, sum d]
            (local.set $a (f32x4.add
              (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b))
              (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b))))
            (local.set $c (f32x4.add
              (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c) (local.get $d))
              (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c) (local.get $d))))
            (v128.store (i32.add (local.get $to) (i32.shl (local.get $o) (i32.const 2)))
              (f32x4.add
                (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $c))
                (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $c))))
            (local.set $o (i32.add (local.get $o) (i32.const 4)))
            (br $quad)))
        ;; The last outDim % 4 outputs, one at a time.
        (block $singlesDone
          (loop $single
            (br_if $singlesDone (i32.ge_u (local.get $o) (local.get $outDim)))
            (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $o) (local.get $rowBytes))))
            (local.set $a (v128.const i32x4 0 0 0 0))
            (local.set $i (i32.const 0))
            (loop $dot1
              (local.set $a (f32x4.add (local.get $a)
                (f32x4.mul (v128.load (i32.add (local.get $xr) (local.get $i)))
                  (v128.load (i32.add (local.get $w0) (local.get $i))))))
              (local.set $i (i32.add (local.get $i) (i32.const 16)))
              (br_if $dot1 (i32.lt_u (local.get $i) (local.get $rowBytes))))
            (local.set $a (f32x4.add (local.get $a)
              (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a) (local.get $a))))
            (f32.store (i32.add (local.get $to) (i32.shl (local.get $o) (i32.const 2)))
              (f32.add (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a))))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (br $single)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $eachRow))))
)
