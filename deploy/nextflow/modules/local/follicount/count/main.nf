process FOLLICOUNT_COUNT {
    tag "shard ${shard}/${count}"
    label 'process_medium'

    input:
    path inputs                 // the folders or files to analyse (staged)
    tuple val(shard), val(count)

    output:
    path "shard-${shard}", emit: shard
    path "versions.yml"  , emit: versions

    script:
    def args = task.ext.args ?: ''
    // Exit 1 means some fields failed (error rows): the shard is complete.
    """
    ${params.follicount} count ${inputs} --shard ${shard}/${count} -j ${task.cpus} \\
        -o shard-${shard} ${args} || [ \$? -eq 1 ]

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        follicount: \$(${params.follicount} --version | sed 's/^follicount //')
    END_VERSIONS
    """
}
