;; The limit the attention kernels are measured against: a plain WebAssembly SIMD128 dot-product
;; loop with four f32x4 accumulators, streaming over contiguous rows. No paging, no softmax, no
;; horizontal sum per row: the most multiply-adds per second this runtime gives on these bytes.
(module
  (import "env" "memory" (memory 1))

  ;; The sum over $count rows of $dim floats (a multiple of 16) at $rows of q . row, q at $q.
  (func (export "dotRows") (param $q i32) (param $rows i32) (param $count i32) (param $dim i32) (result f32)
    (local $end i32) (local $rowBytes i32) (local $i i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local.set $rowBytes (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $end (i32.add (local.get $rows) (i32.mul (local.get $count) (local.get $rowBytes))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $rows) (local.get $end)))
        (local.set $i (i32.const 0))
        (loop $lanes
          (local.set $a (f32x4.add (local.get $a) (f32x4.mul
            (v128.load (i32.add (local.get $q) (local.get $i))) (v128.load (i32.add (local.get $rows) (local.get $i))))))
          (local.set $b (f32x4.add (local.get $b) (f32x4.mul
            (v128.load offset=16 (i32.add (local.get $q) (local.get $i))) (v128.load offset=16 (i32.add (local.get $rows) (local.get $i))))))
          (local.set $c (f32x4.add (local.get $c) (f32x4.mul
            (v128.load offset=32 (i32.add (local.get $q) (local.get $i))) (v128.load offset=32 (i32.add (local.get $rows) (local.get $i))))))
          (local.set $d (f32x4.add (local.get $d) (f32x4.mul
            (v128.load offset=48 (i32.add (local.get $q) (local.get $i))) (v128.load offset=48 (i32.add (local.get $rows) (local.get $i))))))
          (local.set $i (i32.add (local.get $i) (i32.const 64)))
          (br_if $lanes (i32.lt_u (local.get $i) (local.get $rowBytes))))
        (local.set $rows (i32.add (local.get $rows) (local.get $rowBytes)))
        (br $row)))
    (local.set $a (f32x4.add (f32x4.add (local.get $a) (local.get $b)) (f32x4.add (local.get $c) (local.get $d))))
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a)))
      (f32.add (f32x4.extract_lane 2 (local.get $a)) (f32x4.extract_lane 3 (local.get $a)))))
)
