;; Paged attention kernels for the CPU KV store, in WebAssembly with SIMD128.
;;
;; The store's memory is this module's memory: K and V are read in place, through a block table,
;; and nothing is gathered. A call works on a tile of query vectors that read the same KV head
;; (the query heads of one GQA group, for one or more query rows). Each vector has a record:
;;
;;   [query: dim f32][acc: dim f32][max: f32][sum: f32][length: i32][pad][scores: run f32, rounded up to 4]
;;
;; `attend` walks a chunk of the block table run by run (a run is at most `run` positions of one
;; block) and keeps an online softmax per vector: the running max, the running sum of
;; exp(score - max), and the accumulator of the values weighted by it, rescaled when the max grows.
;; A vector only sees positions below its own length, which gives decode (all vectors of one
;; length) and a causal prefill chunk (each row one position longer than the one before).
;; 16-bit storage (IEEE float16 or bfloat16) is converted to f32 once per run into `work`.
;;
;; Accumulation is in f32 lanes, four positions' dot products at a time; exp is a degree-6
;; polynomial after range reduction (relative error about 2e-7); see the package README for the
;; tolerance against the float64 JavaScript kernels.
(module
  (import "env" "memory" (memory 1))

  ;; exp of each lane of $x for $x <= 0 (the softmax only needs those); lanes below -87.3, -inf
  ;; and NaN give exactly 0.
  (func $exp (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128) (local $valid v128)
    (local.set $valid (f32x4.ge (local.get $x) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)))
    (local.set $x (f32x4.max (local.get $x) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)))
    (local.set $n (f32x4.nearest
      (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))))
    (local.set $r (f32x4.sub
      (f32x4.sub (local.get $x)
        (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
      (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add
      (f32x4.add (f32x4.mul (f32x4.mul (local.get $p) (local.get $r)) (local.get $r)) (local.get $r))
      (v128.const f32x4 1 1 1 1)))
    (v128.and (local.get $valid)
      (f32x4.mul (local.get $p)
        (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127))
          (i32.const 23)))))

  ;; The sum of the four lanes of $v.
  (func $sum (param $v v128) (result f32)
    (local.set $v (f32x4.add (local.get $v)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v))))

  ;; Converts $count (a multiple of 4) 16-bit elements at $from into f32 at $to: bfloat16 when
  ;; $bf16, IEEE float16 otherwise (subnormals, infinities and NaN included).
  (func $decode (param $from i32) (param $to i32) (param $count i32) (param $bf16 i32)
    (local $end i32) (local $h v128) (local $bits v128)
    (local.set $end (i32.add (local.get $to) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $to) (local.get $end)))
        (local.set $h (v128.load16x4_u (local.get $from)))
        (if (local.get $bf16)
          (then (v128.store (local.get $to) (i32x4.shl (local.get $h) (i32.const 16))))
          (else
            (local.set $bits (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff))
              (i32.const 13)))
            (v128.store (local.get $to)
              (v128.or
                (i32x4.shl (v128.and (local.get $h) (v128.const i32x4 0x8000 0x8000 0x8000 0x8000)) (i32.const 16))
                (v128.bitselect
                  (v128.or (local.get $bits) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
                  (f32x4.mul (local.get $bits) (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000))
                  (i32x4.ge_u (local.get $bits) (v128.const i32x4 0x0f800000 0x0f800000 0x0f800000 0x0f800000)))))))
        (local.set $from (i32.add (local.get $from) (i32.const 8)))
        (local.set $to (i32.add (local.get $to) (i32.const 16)))
        (br $next))))

  ;; scores[j] = scale * (q . k_j) for the $n keys at $keys, $row bytes apart; returns the
  ;; largest score. Four keys at a time share the loads of q and one transposing sum.
  (func $score (param $q i32) (param $keys i32) (param $n i32) (param $row i32) (param $scale f32) (param $scores i32)
    (result f32)
    (local $j i32) (local $i i32) (local $k0 i32) (local $qv v128)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $max v128) (local $s f32) (local $top f32)
    (local.set $max (v128.const f32x4 -inf -inf -inf -inf))
    (local.set $top (f32.const -inf))
    (block $quads
      (loop $quad
        (br_if $quads (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $n)))
        (local.set $k0 (i32.add (local.get $keys) (i32.mul (local.get $j) (local.get $row))))
        (local.set $a (v128.const i32x4 0 0 0 0))
        (local.set $b (v128.const i32x4 0 0 0 0))
        (local.set $c (v128.const i32x4 0 0 0 0))
        (local.set $d (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (loop $dim
          (local.set $qv (v128.load (i32.add (local.get $q) (local.get $i))))
          (local.set $a (f32x4.add (local.get $a)
            (f32x4.mul (local.get $qv) (v128.load (i32.add (local.get $k0) (local.get $i))))))
          (local.set $b (f32x4.add (local.get $b)
            (f32x4.mul (local.get $qv) (v128.load (i32.add (i32.add (local.get $k0) (local.get $row)) (local.get $i))))))
          (local.set $c (f32x4.add (local.get $c)
            (f32x4.mul (local.get $qv)
              (v128.load (i32.add (i32.add (local.get $k0) (i32.shl (local.get $row) (i32.const 1))) (local.get $i))))))
          (local.set $d (f32x4.add (local.get $d)
            (f32x4.mul (local.get $qv)
              (v128.load (i32.add (i32.add (local.get $k0) (i32.mul (local.get $row) (i32.const 3))) (local.get $i))))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $dim (i32.lt_u (local.get $i) (local.get $row))))
        ;; [a b c d] -> [sum a, sum b, sum c, sum d]
        (local.set $a (f32x4.add
          (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b))
          (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b))))
        (local.set $c (f32x4.add
          (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c) (local.get $d))
          (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c) (local.get $d))))
        (local.set $a (f32x4.mul (f32x4.splat (local.get $scale))
          (f32x4.add
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $c))
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $c)))))
        (v128.store (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2))) (local.get $a))
        (local.set $max (f32x4.max (local.get $max) (local.get $a)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $quad)))
    (block $singles
      (loop $single
        (br_if $singles (i32.ge_s (local.get $j) (local.get $n)))
        (local.set $k0 (i32.add (local.get $keys) (i32.mul (local.get $j) (local.get $row))))
        (local.set $a (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (loop $dim1
          (local.set $a (f32x4.add (local.get $a)
            (f32x4.mul (v128.load (i32.add (local.get $q) (local.get $i)))
              (v128.load (i32.add (local.get $k0) (local.get $i))))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $dim1 (i32.lt_u (local.get $i) (local.get $row))))
        (local.set $s (f32.mul (local.get $scale) (call $sum (local.get $a))))
        (f32.store (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2))) (local.get $s))
        (local.set $top (f32.max (local.get $top) (local.get $s)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $single)))
    (local.set $max (f32x4.max (local.get $max)
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $max) (local.get $max))))
    (f32.max (local.get $top)
      (f32.max (f32x4.extract_lane 0 (local.get $max)) (f32x4.extract_lane 1 (local.get $max)))))

  ;; acc += scores[j] * v_j for the $n values at $values, $row bytes apart: 16 lanes of acc are
  ;; held in registers across the run, 4 at a time for the rest.
  (func $accumulate (param $acc i32) (param $scores i32) (param $values i32) (param $n i32) (param $row i32)
    (local $d i32) (local $j i32) (local $v i32) (local $p v128)
    (local $a v128) (local $b v128) (local $c v128) (local $e v128)
    (block $wide
      (loop $chunk
        (br_if $wide (i32.gt_u (i32.add (local.get $d) (i32.const 64)) (local.get $row)))
        (local.set $a (v128.load (i32.add (local.get $acc) (local.get $d))))
        (local.set $b (v128.load offset=16 (i32.add (local.get $acc) (local.get $d))))
        (local.set $c (v128.load offset=32 (i32.add (local.get $acc) (local.get $d))))
        (local.set $e (v128.load offset=48 (i32.add (local.get $acc) (local.get $d))))
        (local.set $v (i32.add (local.get $values) (local.get $d)))
        (local.set $j (i32.const 0))
        (loop $position
          (local.set $p (v128.load32_splat (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2)))))
          (local.set $a (f32x4.add (local.get $a) (f32x4.mul (local.get $p) (v128.load (local.get $v)))))
          (local.set $b (f32x4.add (local.get $b) (f32x4.mul (local.get $p) (v128.load offset=16 (local.get $v)))))
          (local.set $c (f32x4.add (local.get $c) (f32x4.mul (local.get $p) (v128.load offset=32 (local.get $v)))))
          (local.set $e (f32x4.add (local.get $e) (f32x4.mul (local.get $p) (v128.load offset=48 (local.get $v)))))
          (local.set $v (i32.add (local.get $v) (local.get $row)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $position (i32.lt_s (local.get $j) (local.get $n))))
        (v128.store (i32.add (local.get $acc) (local.get $d)) (local.get $a))
        (v128.store offset=16 (i32.add (local.get $acc) (local.get $d)) (local.get $b))
        (v128.store offset=32 (i32.add (local.get $acc) (local.get $d)) (local.get $c))
        (v128.store offset=48 (i32.add (local.get $acc) (local.get $d)) (local.get $e))
        (local.set $d (i32.add (local.get $d) (i32.const 64)))
        (br $chunk)))
    (block $narrow
      (loop $chunk4
        (br_if $narrow (i32.ge_u (local.get $d) (local.get $row)))
        (local.set $a (v128.load (i32.add (local.get $acc) (local.get $d))))
        (local.set $v (i32.add (local.get $values) (local.get $d)))
        (local.set $j (i32.const 0))
        (loop $position4
          (local.set $a (f32x4.add (local.get $a)
            (f32x4.mul (v128.load32_splat (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2))))
              (v128.load (local.get $v)))))
          (local.set $v (i32.add (local.get $v) (local.get $row)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $position4 (i32.lt_s (local.get $j) (local.get $n))))
        (v128.store (i32.add (local.get $acc) (local.get $d)) (local.get $a))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (br $chunk4))))

  ;; $count f32 lanes at $at (a multiple of 4) times $factor, in place.
  (func $scaleBy (param $at i32) (param $count i32) (param $factor v128)
    (local $end i32)
    (local.set $end (i32.add (local.get $at) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (v128.store (local.get $at) (f32x4.mul (v128.load (local.get $at)) (local.get $factor)))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $next))))

  ;; $count f32 lanes at $at (a multiple of 4) set to 0.
  (func $zero (param $at i32) (param $count i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $at) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (v128.store (local.get $at) (v128.const i32x4 0 0 0 0))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $next))))

  ;; Bytes of one vector's record for head dimension $dim and runs of $run positions.
  (func $record (export "record") (param $dim i32) (param $run i32) (result i32)
    (i32.add (i32.add (i32.shl (local.get $dim) (i32.const 3)) (i32.const 16))
      (i32.shl (i32.and (i32.add (local.get $run) (i32.const 3)) (i32.const -4)) (i32.const 2))))

  ;; Starts the softmax of $vectors records at $tile: max -inf, sum 0, acc 0 (queries and lengths
  ;; are the caller's).
  (func (export "begin") (param $tile i32) (param $vectors i32) (param $dim i32) (param $run i32)
    (local $size i32) (local $acc i32)
    (local.set $size (call $record (local.get $dim) (local.get $run)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $vectors)))
        (local.set $acc (i32.add (local.get $tile) (i32.shl (local.get $dim) (i32.const 2))))
        (call $zero (local.get $acc) (local.get $dim))
        (f32.store (i32.add (local.get $acc) (i32.shl (local.get $dim) (i32.const 2))) (f32.const -inf))
        (f32.store offset=4 (i32.add (local.get $acc) (i32.shl (local.get $dim) (i32.const 2))) (f32.const 0))
        (local.set $tile (i32.add (local.get $tile) (local.get $size)))
        (local.set $vectors (i32.sub (local.get $vectors) (i32.const 1)))
        (br $next))))

  ;; Divides each record's acc by its sum: acc becomes the attention output.
  (func (export "end") (param $tile i32) (param $vectors i32) (param $dim i32) (param $run i32)
    (local $size i32) (local $acc i32) (local $sum v128) (local $at i32) (local $stop i32)
    (local.set $size (call $record (local.get $dim) (local.get $run)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $vectors)))
        (local.set $acc (i32.add (local.get $tile) (i32.shl (local.get $dim) (i32.const 2))))
        (local.set $stop (i32.add (local.get $acc) (i32.shl (local.get $dim) (i32.const 2))))
        (local.set $sum (v128.load32_splat offset=4 (local.get $stop)))
        (local.set $at (local.get $acc))
        (block $row
          (loop $lanes
            (br_if $row (i32.ge_u (local.get $at) (local.get $stop)))
            (v128.store (local.get $at) (f32x4.div (v128.load (local.get $at)) (local.get $sum)))
            (local.set $at (i32.add (local.get $at) (i32.const 16)))
            (br $lanes)))
        (local.set $tile (i32.add (local.get $tile) (local.get $size)))
        (local.set $vectors (i32.sub (local.get $vectors) (i32.const 1)))
        (br $next))))

  ;; Attends the $vectors records at $tile to the $blocks blocks listed (u32) at $table, whose
  ;; first position is $first. $keys and $values address element 0 of the KV head's slab in
  ;; block 0 of a layer; a block is $blockBytes further. $dtype: 0 float32, 1 float16, 2 bfloat16.
  (func (export "attend")
    (param $keys i32) (param $values i32) (param $blockBytes i32) (param $table i32) (param $blocks i32)
    (param $first i32) (param $blockSize i32) (param $dim i32) (param $dtype i32) (param $run i32)
    (param $tile i32) (param $vectors i32) (param $scale f32) (param $work i32)
    (local $size i32) (local $row i32) (local $elementShift i32) (local $longest i32) (local $t i32) (local $rec i32)
    (local $b i32) (local $block i32) (local $offset i32) (local $position i32) (local $count i32) (local $n i32)
    (local $k i32) (local $v i32) (local $acc i32) (local $meta i32) (local $scores i32)
    (local $top f32) (local $old f32) (local $max f32) (local $sum v128) (local $p v128) (local $j i32) (local $end i32)
    (local.set $size (call $record (local.get $dim) (local.get $run)))
    (local.set $row (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $elementShift (select (i32.const 2) (i32.const 1) (i32.eqz (local.get $dtype))))
    ;; The longest length in the tile: no position at or past it is read.
    (local.set $rec (local.get $tile))
    (local.set $t (local.get $vectors))
    (block $measured
      (loop $measure
        (br_if $measured (i32.eqz (local.get $t)))
        (local.set $longest (select (local.get $longest)
          (i32.load offset=8 (i32.add (local.get $rec) (i32.shl (local.get $row) (i32.const 1))))
          (i32.gt_s (local.get $longest)
            (i32.load offset=8 (i32.add (local.get $rec) (i32.shl (local.get $row) (i32.const 1)))))))
        (local.set $rec (i32.add (local.get $rec) (local.get $size)))
        (local.set $t (i32.sub (local.get $t) (i32.const 1)))
        (br $measure)))
    (block $blocksDone
      (loop $eachBlock
        (br_if $blocksDone (i32.ge_u (local.get $b) (local.get $blocks)))
        (local.set $block (i32.load (i32.add (local.get $table) (i32.shl (local.get $b) (i32.const 2)))))
        (local.set $offset (i32.const 0))
        (block $runsDone
          (loop $eachRun
            (local.set $position (i32.add (i32.add (local.get $first) (i32.mul (local.get $b) (local.get $blockSize)))
              (local.get $offset)))
            (br_if $runsDone (i32.ge_u (local.get $offset) (local.get $blockSize)))
            (br_if $blocksDone (i32.ge_s (local.get $position) (local.get $longest)))
            (local.set $count (i32.sub (local.get $blockSize) (local.get $offset)))
            (if (i32.gt_s (local.get $count) (local.get $run)) (then (local.set $count (local.get $run))))
            (if (i32.gt_s (local.get $count) (i32.sub (local.get $longest) (local.get $position)))
              (then (local.set $count (i32.sub (local.get $longest) (local.get $position)))))
            (local.set $k (i32.add (i32.mul (local.get $block) (local.get $blockBytes))
              (i32.shl (i32.mul (local.get $offset) (local.get $dim)) (local.get $elementShift))))
            (local.set $v (i32.add (local.get $values) (local.get $k)))
            (local.set $k (i32.add (local.get $keys) (local.get $k)))
            (if (local.get $dtype)
              (then
                (call $decode (local.get $k) (local.get $work) (i32.mul (local.get $count) (local.get $dim))
                  (i32.eq (local.get $dtype) (i32.const 2)))
                (call $decode (local.get $v) (i32.add (local.get $work) (i32.mul (local.get $run) (local.get $row)))
                  (i32.mul (local.get $count) (local.get $dim)) (i32.eq (local.get $dtype) (i32.const 2)))
                (local.set $k (local.get $work))
                (local.set $v (i32.add (local.get $work) (i32.mul (local.get $run) (local.get $row))))))
            ;; Each vector of the tile: scores, softmax update, weighted values.
            (local.set $rec (local.get $tile))
            (local.set $t (i32.const 0))
            (block $vectorsDone
              (loop $eachVector
                (br_if $vectorsDone (i32.ge_u (local.get $t) (local.get $vectors)))
                (local.set $acc (i32.add (local.get $rec) (local.get $row)))
                (local.set $meta (i32.add (local.get $acc) (local.get $row)))
                (local.set $scores (i32.add (local.get $meta) (i32.const 16)))
                (local.set $n (i32.sub (i32.load offset=8 (local.get $meta)) (local.get $position)))
                (if (i32.gt_s (local.get $n) (local.get $count)) (then (local.set $n (local.get $count))))
                (if (i32.gt_s (local.get $n) (i32.const 0))
                  (then
                    (local.set $top (call $score (local.get $rec) (local.get $k) (local.get $n) (local.get $row)
                      (local.get $scale) (local.get $scores)))
                    (local.set $old (f32.load (local.get $meta)))
                    (if (f32.gt (local.get $top) (local.get $old))
                      (then
                        (local.set $sum (call $exp (f32x4.splat (f32.sub (local.get $old) (local.get $top)))))
                        (f32.store offset=4 (local.get $meta)
                          (f32.mul (f32.load offset=4 (local.get $meta)) (f32x4.extract_lane 0 (local.get $sum))))
                        (call $scaleBy (local.get $acc) (local.get $dim) (local.get $sum))
                        (f32.store (local.get $meta) (local.get $top))))
                    (local.set $max (f32.load (local.get $meta)))
                    ;; Lanes past $n up to a multiple of 4 weigh exactly 0.
                    (local.set $j (local.get $n))
                    (block $padded
                      (loop $pad
                        (br_if $padded (i32.eqz (i32.and (local.get $j) (i32.const 3))))
                        (f32.store (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 2))) (f32.const -inf))
                        (local.set $j (i32.add (local.get $j) (i32.const 1)))
                        (br $pad)))
                    (local.set $sum (v128.const i32x4 0 0 0 0))
                    (local.set $j (local.get $scores))
                    (local.set $end (i32.add (local.get $scores)
                      (i32.shl (i32.and (i32.add (local.get $n) (i32.const 3)) (i32.const -4)) (i32.const 2))))
                    (block $exped
                      (loop $expNext
                        (br_if $exped (i32.ge_u (local.get $j) (local.get $end)))
                        (local.set $p (call $exp (f32x4.sub (v128.load (local.get $j)) (f32x4.splat (local.get $max)))))
                        (v128.store (local.get $j) (local.get $p))
                        (local.set $sum (f32x4.add (local.get $sum) (local.get $p)))
                        (local.set $j (i32.add (local.get $j) (i32.const 16)))
                        (br $expNext)))
                    (f32.store offset=4 (local.get $meta)
                      (f32.add (f32.load offset=4 (local.get $meta)) (call $sum (local.get $sum))))
                    (call $accumulate (local.get $acc) (local.get $scores) (local.get $v) (local.get $n) (local.get $row))))
                (local.set $rec (i32.add (local.get $rec) (local.get $size)))
                (local.set $t (i32.add (local.get $t) (i32.const 1)))
                (br $eachVector)))
            (local.set $offset (i32.add (local.get $offset) (local.get $run)))
            (br $eachRun)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $eachBlock))))
)
