#!/usr/bin/env nextflow
// follicount with Nextflow: one task per shard of the inputs, then the
// merge (the same commands as deploy/slurm/). Written in the nf-core
// module style; NOT run by follicount's tests (Nextflow does not install
// from a package registry this project's CI reaches).
//
//   nextflow run deploy/nextflow/main.nf --input /data/day1 --outdir day1-out \
//       --shards 8 -profile slurm
//
// `follicount` must be on the PATH of the compute nodes (or set
// params.follicount). Inputs are staged as links; file names in the tables
// stay relative to the folder given, so the merged tables equal one run's.

nextflow.enable.dsl = 2

params.input      = null          // a folder of TIFFs (or a glob of files)
params.outdir     = 'follicount-nextflow'
params.shards     = 4
params.follicount = 'follicount'
params.args       = ''            // more count options, e.g. '--overlay'

include { FOLLICOUNT_COUNT } from './modules/local/follicount/count/main'
include { FOLLICOUNT_MERGE } from './modules/local/follicount/merge/main'

workflow {
    if (!params.input) { error "give --input FOLDER" }
    inputs = Channel.fromPath(params.input, type: 'any', checkIfExists: true).collect()
    shards = Channel.of(1..params.shards).map { i -> [i, params.shards] }
    FOLLICOUNT_COUNT(inputs, shards)
    FOLLICOUNT_MERGE(FOLLICOUNT_COUNT.out.shard.collect())
}
