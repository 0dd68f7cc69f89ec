{#- A 4x6 inch shipping label for a ZPL printer (Zebra), 203 dpi. Document data goes
    through |zpl so that it cannot become printer commands. -#}
^XA
^CI28
^PW812
^LL1218
^FO40,40^A0N,40,40^FD{{ site_name|zpl }}^FS
^FO40,100^GB732,3,3^FS
^FO40,130^A0N,30,30^FDShip to:^FS
^FO40,175^A0N,55,55^FD{{ doc.customer|zpl }}^FS
^FO40,260^A0N,30,30^FDInvoice {{ doc.name|zpl }} - {{ doc.posting_date|format_date|zpl }}^FS
^FO40,300^A0N,30,30^FD{{ doc["items"]|length }} line(s), total {{ doc.grand_total|money|zpl }}^FS
^FO40,380^BY3^BCN,160,Y,N,N^FD{{ doc.name|zpl }}^FS
^XZ
