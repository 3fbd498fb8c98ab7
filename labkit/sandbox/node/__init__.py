"""The labkit node agent: pods as local processes, with the kubelet's behaviour."""
