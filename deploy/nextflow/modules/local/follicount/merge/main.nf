process FOLLICOUNT_MERGE {
    label 'process_single'
    publishDir params.outdir, mode: 'copy'

    input:
    path shards                 // every shard's output folder

    output:
    path "merged/fields.csv"    , emit: fields
    path "merged/follicles.csv" , emit: follicles
    path "merged"               , emit: merged
    path "versions.yml"         , emit: versions

    script:
    """
    ${params.follicount} merge ${shards} -o merged || [ \$? -eq 1 ]

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        follicount: \$(${params.follicount} --version | sed 's/^follicount //')
    END_VERSIONS
    """
}
